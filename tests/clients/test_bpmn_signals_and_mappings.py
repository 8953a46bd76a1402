"""Receive tasks moved on by signals (and Camunda's wording of a signal it refuses), input/output
mappings on sub-processes, receive tasks, timer catch events and end events, and a process's
documentation, deployed and run through the REST API of a real gateway."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.clients.bpmn_helpers import _definition, _error, _executions, _fetch, _start, _state
from tests.clients.conftest import Redtask

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
