"""BPMN models Camunda accepts, deployed and run through the REST API of a real gateway:
models from Camunda's own test suite (tests/clients/bpmn, each naming its source), receive
tasks moved on by signals, input/output mappings on sub-processes and receive tasks, a
process's documentation and Camunda's wording of parse problems."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.clients.conftest import Redtask

MODELS = Path(__file__).parent / "bpmn"


def _deploy(redtask: Redtask, name: str, xml: bytes) -> httpx.Response:
    return httpx.post(
        f"{redtask.engine_rest}/deployment/create",
        data={"deployment-name": name},
        files={"model": (f"{name}.bpmn", xml, "application/xml")},
    )


def _definition(redtask: Redtask, name: str, xml: bytes) -> dict[str, Any]:
    response = _deploy(redtask, name, xml)
    assert response.status_code == 200, response.text
    [definition] = response.json()["deployedProcessDefinitions"].values()
    result: dict[str, Any] = definition
    return result


def _start(redtask: Redtask, definition_id: str, variables: dict[str, Any] | None = None) -> str:
    response = redtask.post(
        f"/process-definition/{definition_id}/start", {"variables": variables or {}}
    )
    assert response.status_code == 200, response.text
    instance_id: str = response.json()["id"]
    return instance_id


def _state(redtask: Redtask, instance_id: str) -> str:
    response = httpx.get(f"{redtask.engine_rest}/history/process-instance/{instance_id}")
    assert response.status_code == 200, response.text
    state: str = response.json()["state"]
    return state


def _executions(redtask: Redtask, instance_id: str, activity_id: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{redtask.engine_rest}/execution",
        params={"processInstanceId": instance_id, "activityId": activity_id},
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def _is_uuid(value: str) -> bool:
    return str(uuid.UUID(value)) == value


def _fetch(redtask: Redtask, topic: str, **extra: Any) -> list[dict[str, Any]]:
    body = {
        "workerId": "w",
        "maxTasks": 5,
        "topics": [{"topicName": topic, "lockDuration": 10000, **extra}],
    }
    response = redtask.post("/external-task/fetchAndLock", body)
    assert response.status_code == 200, response.text
    tasks: list[dict[str, Any]] = response.json()
    return tasks


def _error(type_: str, message: str, code: int | None) -> dict[str, Any]:
    return {"type": type_, "message": message, "code": code}


# ------------------------------------------------------------------ Camunda's own models


def test_a_receive_task_without_message_waits_until_the_instance_is_signalled(
    redtask: Redtask,
) -> None:
    definition = _definition(
        redtask, "wait-state", (MODELS / "ReceiveTaskTest.testWaitStateBehavior.bpmn").read_bytes()
    )
    instance_id = _start(redtask, definition["id"])
    [execution] = _executions(redtask, instance_id, "waitState")
    assert execution == {
        "id": execution["id"],
        "processInstanceId": instance_id,
        "ended": False,
        "tenantId": None,
    }
    assert _is_uuid(execution["id"])
    assert _state(redtask, instance_id) == "ACTIVE"

    # the process instance's own id: it has one execution, which waits in the receive task
    response = redtask.post(f"/execution/{instance_id}/signal", {})

    assert response.status_code == 204, response.text
    assert _state(redtask, instance_id) == "COMPLETED"
    assert _executions(redtask, instance_id, "waitState") == []


def test_sequence_flows_without_ids_deploy_and_run(redtask: Redtask) -> None:
    """Camunda's model has a sub-process and sequence flows without ids."""
    definition = _definition(
        redtask, "sub-receive", (MODELS / "ReceiveTaskTest.subProcessReceiveTask.bpmn").read_bytes()
    )
    instance_id = _start(redtask, definition["id"])
    assert len(_executions(redtask, instance_id, "waitState")) == 1

    response = redtask.post(
        "/message", {"messageName": "newInvoiceMessage", "processInstanceId": instance_id}
    )

    assert response.status_code == 204, response.text
    assert _state(redtask, instance_id) == "COMPLETED"


def test_parallel_receive_tasks_join_after_both_messages(redtask: Redtask) -> None:
    model = (MODELS / "ReceiveTaskTest.parallelGatewayReceiveTask.bpmn").read_bytes()
    instance_id = _start(redtask, _definition(redtask, "parallel-receive", model)["id"])
    [first] = _executions(redtask, instance_id, "waitState1")
    [second] = _executions(redtask, instance_id, "waitState2")
    # two paths: the process instance is in no activity itself
    refused = redtask.post(f"/execution/{instance_id}/signal", {})
    assert (refused.status_code, refused.json()) == (
        400,
        _error(
            "RestException",
            f"Cannot signal execution {instance_id}: execution {instance_id} does not wait in a "
            "receive task or message catch event",
            0,
        ),
    )
    everything = httpx.get(f"{redtask.engine_rest}/execution")
    assert (everything.status_code, everything.json()) == (
        400,
        _error(
            "InvalidRequestException",
            "redtask answers execution queries with a processInstanceId only",
            None,
        ),
    )

    message = {"messageName": "Message 1", "processInstanceId": instance_id}
    assert redtask.post("/message", message).status_code == 204
    assert _state(redtask, instance_id) == "ACTIVE"
    # a receive task with a message can be signalled too (Camunda's ReceiveTaskActivityBehavior)
    assert redtask.post(f"/execution/{second['id']}/signal", {}).status_code == 204

    assert first["id"] != second["id"]
    assert _state(redtask, instance_id) == "COMPLETED"


def test_a_property_without_name_deploys_and_is_left_out(redtask: Redtask) -> None:
    model = (MODELS / "BpmnParseTest.testParseEmptyExtensionProperty.bpmn").read_bytes()
    definition = _definition(redtask, "empty-property", model)
    instance_id = _start(redtask, definition["id"])

    [task] = _fetch(redtask, "task1", includeExtensionProperties=True)

    assert (task["processInstanceId"], task["activityId"]) == (instance_id, "Activity_Task1")
    assert task["extensionProperties"] == {}
    assert _is_uuid(task["id"]) and _is_uuid(task["executionId"])
    assert task["activityInstanceId"].startswith("Activity_Task1:")
    assert _is_uuid(task["activityInstanceId"].removeprefix("Activity_Task1:"))


# ------------------------------------------------------------------ signals

SIGNAL_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
  <process id="{key}" isExecutable="true">
    <documentation>Waits for an approval.</documentation>
    <documentation>
      Then works.
    </documentation>
    <startEvent id="start"/>
    <sequenceFlow sourceRef="start" targetRef="approve"/>
    <receiveTask id="approve">
      <extensionElements>
        <camunda:inputOutput>
          <camunda:inputParameter name="deadline">${{days * 2}}</camunda:inputParameter>
          <camunda:outputParameter name="verdict">${{approved ? 'yes' : 'no'}}
          </camunda:outputParameter>
          <camunda:outputParameter name="seenDeadline">${{deadline}}</camunda:outputParameter>
        </camunda:inputOutput>
      </extensionElements>
    </receiveTask>
    <sequenceFlow sourceRef="approve" targetRef="work"/>
    <serviceTask id="work" camunda:type="external" camunda:topic="{key}"/>
    <sequenceFlow sourceRef="work" targetRef="end"/>
    <endEvent id="end"/>
  </process>
</definitions>"""


def test_signalling_an_execution_sets_its_variables_and_moves_it_on(redtask: Redtask) -> None:
    key = f"signal-{uuid.uuid4().hex[:8]}"
    definition = _definition(redtask, key, SIGNAL_PROCESS.format(key=key).encode())
    assert definition["description"] == "Waits for an approval.\n\nThen works."
    got = httpx.get(f"{redtask.engine_rest}/process-definition/{definition['id']}").json()
    assert got["description"] == "Waits for an approval.\n\nThen works."
    instance_id = _start(redtask, definition["id"], {"days": {"type": "Integer", "value": 3}})
    [execution] = _executions(redtask, instance_id, "approve")

    signalled = redtask.post(
        f"/execution/{execution['id']}/signal",
        {"variables": {"approved": {"type": "Boolean", "value": True}}},
    )

    assert signalled.status_code == 204, signalled.text
    [task] = _fetch(redtask, key)
    assert task["activityId"] == "work"
    # the input "deadline" was local to the receive task; its outputs reach the process
    assert task["variables"] == {
        "days": {"type": "Integer", "value": 3, "valueInfo": {}},
        "approved": {"type": "Boolean", "value": True, "valueInfo": {}},
        "verdict": {"type": "String", "value": "yes", "valueInfo": {}},
        "seenDeadline": {"type": "Long", "value": 6, "valueInfo": {}},
    }
    # signalled once: it waits no more
    again = redtask.post(f"/execution/{execution['id']}/signal", {})
    assert (again.status_code, again.json()) == (
        400,
        _error(
            "RestException",
            f"Cannot signal execution {execution['id']}: execution {execution['id']} doesn't "
            "exist: execution is null",
            0,
        ),
    )


def test_signal_refusals_use_camundas_wording(redtask: Redtask) -> None:
    key = f"signal-{uuid.uuid4().hex[:8]}"
    definition = _definition(redtask, key, SIGNAL_PROCESS.format(key=key).encode())
    instance_id = _start(redtask, definition["id"], {"days": {"type": "Integer", "value": 1}})
    [execution] = _executions(redtask, instance_id, "approve")
    waiting = execution["id"]

    bad_variable = redtask.post(
        f"/execution/{waiting}/signal", {"variables": {"n": {"type": "Integer", "value": "x"}}}
    )
    assert (bad_variable.status_code, bad_variable.json()) == (
        400,
        _error(
            "InvalidRequestException",
            f"Cannot signal execution {waiting}: Cannot convert value 'x' of type 'Integer' to "
            "java type java.lang.Integer",
            None,
        ),
    )
    unknown = redtask.post("/execution/nope/signal", {})
    assert (unknown.status_code, unknown.json()) == (
        400,
        _error(
            "RestException",
            "Cannot signal execution nope: execution nope doesn't exist: execution is null",
            0,
        ),
    )

    # POST /signal triggers signal events: redtask's BPMN subset has none
    assert redtask.post("/signal", {"name": "approve"}).status_code == 204
    assert (
        len(_executions(redtask, instance_id, "approve")) == 1
    )  # a receive task is no signal event
    nameless = redtask.post("/signal", {"executionId": waiting})
    assert (nameless.status_code, nameless.json()) == (
        400,
        _error("InvalidRequestException", "No signal name given", None),
    )
    to_execution = redtask.post("/signal", {"name": "approve", "executionId": waiting})
    assert (to_execution.status_code, to_execution.json()) == (
        400,
        _error(
            "RestException",
            f"Execution '{waiting}' has not subscribed to a signal event with name 'approve'.",
            0,
        ),
    )
    to_nothing = redtask.post("/signal", {"name": "approve", "executionId": "nope"})
    assert (to_nothing.status_code, to_nothing.json()) == (
        400,
        _error("NullValueException", "Cannot find execution with id 'nope': execution is null", 0),
    )
    assert len(_executions(redtask, instance_id, "approve")) == 1


# ------------------------------------------------------------------ input/output mappings

SUB_PROCESS_IO = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
  <process id="{key}" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow sourceRef="start" targetRef="sub"/>
    <subProcess id="sub">
      <extensionElements>
        <camunda:inputOutput>
          <camunda:inputParameter name="limit">${{count * 2}}</camunda:inputParameter>
          <camunda:outputParameter name="total">${{limit + result}}</camunda:outputParameter>
        </camunda:inputOutput>
      </extensionElements>
      <startEvent id="subStart"/>
      <sequenceFlow sourceRef="subStart" targetRef="inner"/>
      <serviceTask id="inner" camunda:type="external" camunda:topic="{key}-inner"/>
      <sequenceFlow sourceRef="inner" targetRef="subEnd"/>
      <endEvent id="subEnd"/>
    </subProcess>
    <sequenceFlow sourceRef="sub" targetRef="after"/>
    <serviceTask id="after" camunda:type="external" camunda:topic="{key}-after"/>
    <sequenceFlow sourceRef="after" targetRef="end"/>
    <endEvent id="end"/>
  </process>
</definitions>"""


def test_a_sub_process_maps_its_inputs_and_outputs(redtask: Redtask) -> None:
    key = f"sub-io-{uuid.uuid4().hex[:8]}"
    definition = _definition(redtask, key, SUB_PROCESS_IO.format(key=key).encode())
    instance_id = _start(redtask, definition["id"], {"count": {"type": "Integer", "value": 3}})

    [inner] = _fetch(redtask, f"{key}-inner")
    assert inner["variables"] == {
        "count": {"type": "Integer", "value": 3, "valueInfo": {}},
        "limit": {"type": "Long", "value": 6, "valueInfo": {}},
    }
    done = redtask.post(
        f"/external-task/{inner['id']}/complete",
        {"workerId": "w", "variables": {"result": {"type": "Integer", "value": 10}}},
    )
    assert done.status_code == 204, done.text

    [after] = _fetch(redtask, f"{key}-after")
    assert after["processInstanceId"] == instance_id
    # the input was the sub-process's own; the output went to the process
    assert after["variables"] == {
        "count": {"type": "Integer", "value": 3, "valueInfo": {}},
        "result": {"type": "Integer", "value": 10, "valueInfo": {}},
        "total": {"type": "Long", "value": 16, "valueInfo": {}},
    }


# ------------------------------------------------------------------ parse problems

THROWING_ERROR_WITHOUT_CODE = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" targetNamespace="t">
  <error id="noCode" name="No code"/>
  <process id="bad-errors" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow sourceRef="start" targetRef="fail"/>
    <endEvent id="fail">
      <errorEventDefinition errorRef="noCode"/>
    </endEvent>
    <sequenceFlow id="lost" sourceRef="start" targetRef="nowhere"/>
  </process>
</definitions>"""


def test_parse_problems_are_worded_as_camunda_words_them(redtask: Redtask) -> None:
    response = _deploy(redtask, "bad-errors", THROWING_ERROR_WITHOUT_CODE)

    missing_code = (
        "'errorCode' is mandatory on errors referenced by throwing error event definitions, "
        "but the error 'noCode' does not define one."
    )
    lost = "Invalid destination 'nowhere' of sequence flow 'lost'"
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "ParseException"
    assert body["message"] == (
        "ENGINE-09005 Could not parse BPMN process. Errors: \n"
        f"* {missing_code} | resource bad-errors.bpmn | line 7\n"
        f"* {lost} | resource bad-errors.bpmn | line 10"
    )
    assert body["details"]["bad-errors.bpmn"]["errors"] == [
        _problem(missing_code, 7, "fail"),
        _problem(lost, 10, "lost"),
    ]


def _problem(message: str, line: int, element: str) -> dict[str, Any]:
    """Camunda's ProblemDto (its second ``elementIds`` starts with a Cyrillic U+0435, as in
    Camunda)."""
    return {
        "message": message,
        "line": line,
        "column": 0,
        "mainBpmnElementId": element,
        "bpmnElementIds": [element],
        "mainElementId": element,
        "\u0435lementIds": [element],
    }


TIMER_IO = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
  <process id="{key}" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow sourceRef="start" targetRef="pause"/>
    <intermediateCatchEvent id="pause">
      <extensionElements>
        <camunda:inputOutput>
          <camunda:inputParameter name="step">${{1}}</camunda:inputParameter>
          <camunda:outputParameter name="next">${{step + 1}}</camunda:outputParameter>
        </camunda:inputOutput>
      </extensionElements>
      <timerEventDefinition><timeDuration>PT0.2S</timeDuration></timerEventDefinition>
    </intermediateCatchEvent>
    <sequenceFlow sourceRef="pause" targetRef="work"/>
    <serviceTask id="work" camunda:type="external" camunda:topic="{key}"/>
    <sequenceFlow sourceRef="work" targetRef="end"/>
    <endEvent id="end">
      <extensionElements>
        <camunda:inputOutput>
          <camunda:inputParameter name="bad">${{missing}}</camunda:inputParameter>
        </camunda:inputOutput>
      </extensionElements>
    </endEvent>
  </process>
</definitions>"""


def test_a_timer_catch_event_and_an_end_event_map_their_parameters(redtask: Redtask) -> None:
    key = f"timer-io-{uuid.uuid4().hex[:8]}"
    definition = _definition(redtask, key, TIMER_IO.format(key=key).encode())
    instance_id = _start(redtask, definition["id"])

    [task] = _fetch_waiting(redtask, key)  # once the timer fired

    assert task["processInstanceId"] == instance_id
    assert task["variables"] == {"next": {"type": "Long", "value": 2, "valueInfo": {}}}
    # the end event's input is evaluated when it is entered: an unknown variable fails the step
    refused = redtask.post(f"/external-task/{task['id']}/complete", {"workerId": "w"})
    assert refused.status_code == 500, refused.text
    assert refused.json()["message"] == (
        "Cannot evaluate the parameter 'bad' of 'end': Unknown property used in expression: "
        "${missing}. Cause: Cannot resolve identifier 'missing'"
    )
    assert _state(redtask, instance_id) == "ACTIVE"


def _fetch_waiting(redtask: Redtask, topic: str) -> list[dict[str, Any]]:
    body = {
        "workerId": "w",
        "maxTasks": 1,
        "asyncResponseTimeout": 5000,
        "topics": [{"topicName": topic, "lockDuration": 10000}],
    }
    response = redtask.post("/external-task/fetchAndLock", body)
    assert response.status_code == 200, response.text
    tasks: list[dict[str, Any]] = response.json()
    return tasks
