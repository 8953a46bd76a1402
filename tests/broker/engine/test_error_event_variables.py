"""camunda:errorCodeVariable / errorMessageVariable on a task's own camunda:errorEventDefinition:
Camunda parses them (``BpmnParse#parseCamundaErrorEventDefinitions``) but never reads them
(``ExternalTaskEntity#evaluateThrowBpmnError`` throws with the code only; the variables set are
those of the catching error event, ``BpmnExceptionHandler#propagateError``). redtask does the
same."""

from __future__ import annotations

from redtask.broker.bpmn import ProcessModel, parse_bpmn
from redtask.broker.engine import CounterIds, InstanceState, complete_task, fail_task, start
from tests.broker.engine.driver import NOW, round_trip, typed

XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:error id="Error_stop" errorCode="STOP" />
  <bpmn:process id="own" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="work" />
    <bpmn:serviceTask id="work" camunda:type="external" camunda:topic="work">
      <bpmn:extensionElements>
        <camunda:errorEventDefinition id="own_def" errorRef="Error_stop" expression="${stop}"
            camunda:errorCodeVariable="ownCode" camunda:errorMessageVariable="ownMessage" />
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f1" sourceRef="work" targetRef="end" />
    <bpmn:endEvent id="end" />
    <bpmn:boundaryEvent id="caught" attachedToRef="work">
      <bpmn:errorEventDefinition errorRef="Error_stop" camunda:errorCodeVariable="caughtCode"
                                 camunda:errorMessageVariable="caughtMessage" />
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="caught" targetRef="after" />
    <bpmn:serviceTask id="after" camunda:type="external" camunda:topic="after" />
  </bpmn:process>
</bpmn:definitions>"""


def started() -> tuple[ProcessModel, InstanceState, str]:
    [model] = parse_bpmn(XML, "own.bpmn")
    ids = CounterIds()
    state, effects = start(model, "pi", {"stop": typed(True)}, None, None, NOW, ids)
    [task] = effects.tasks_created
    return model, state, task.id


def test_completion_sets_only_the_catching_events_variables() -> None:
    model, state, task_id = started()

    after, _ = complete_task(
        model,
        state,
        task_id,
        {},
        {},
        NOW,
        CounterIds("x"),
        external_task={"errorMessage": "why"},
    )

    assert round_trip(after).variables == {
        "stop": typed(True),
        "caughtCode": typed("STOP"),
        "caughtMessage": typed("why"),
    }


def test_a_failure_sets_only_the_catching_events_variables() -> None:
    model, state, task_id = started()

    step = fail_task(
        model,
        state,
        task_id,
        {},
        {},
        NOW,
        CounterIds("x"),
        external_task={"errorMessage": "gave up"},
    )

    assert step is not None
    after, _, code = step
    assert code == "STOP"
    assert set(after.variables) == {"stop", "caughtCode", "caughtMessage"}
    assert after.variables["caughtMessage"] == typed("gave up")
