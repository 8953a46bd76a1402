"""BPMN models Camunda accepts, deployed and run through the REST API of a real gateway:
models from Camunda's own test suite (tests/clients/bpmn, each naming its source), and
Camunda's wording of parse problems. tests/clients/test_bpmn_signals_and_mappings.py: receive
tasks moved on by signals, input/output mappings on sub-processes, receive tasks and events,
and a process's documentation."""

from __future__ import annotations

from typing import Any

import httpx

from tests.clients.bpmn_helpers import (
    MODELS,
    _definition,
    _deploy,
    _error,
    _executions,
    _fetch,
    _is_uuid,
    _start,
    _state,
)
from tests.clients.conftest import Redtask

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
