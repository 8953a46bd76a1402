"""Multi-instance activities meeting the event constructs, through the REST API only: a message
boundary event on a parallel multi-instance task, and an error thrown inside one instance of a
parallel multi-instance sub-process caught by an error event sub-process of the process."""

from __future__ import annotations

import httpx

from tests.gateway.constructs_helpers import act, assert_ended, assert_gone, fetch, start
from tests.gateway.event_helpers import message
from tests.gateway.mi_helpers import deploy_xml

HEAD = b"""<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
  <message id="stop" name="Stop" />
  <error id="fail" errorCode="FAIL" />
"""
LOOP = (
    b"<multiInstanceLoopCharacteristics><loopCardinality>3</loopCardinality>"
    b"</multiInstanceLoopCharacteristics>"
)

MESSAGE_ON_BODY = (
    HEAD
    + b"""  <process id="mi" isExecutable="true">
    <startEvent id="start" /><sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <serviceTask id="work" camunda:type="external" camunda:topic="work">"""
    + LOOP
    + b"""</serviceTask>
    <sequenceFlow id="f2" sourceRef="work" targetRef="end" /><endEvent id="end" />
    <boundaryEvent id="stopped" attachedToRef="work"><messageEventDefinition messageRef="stop" />
    </boundaryEvent>
    <sequenceFlow id="f3" sourceRef="stopped" targetRef="cleanup" />
    <serviceTask id="cleanup" camunda:type="external" camunda:topic="cleanup" />
    <sequenceFlow id="f4" sourceRef="cleanup" targetRef="end2" /><endEvent id="end2" />
  </process>
</definitions>"""
)

ERROR_FROM_AN_INSTANCE = (
    HEAD
    + b"""  <process id="mi" isExecutable="true">
    <startEvent id="start" /><sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <subProcess id="work">"""
    + LOOP
    + b"""
      <startEvent id="ws" /><sequenceFlow id="s1" sourceRef="ws" targetRef="step" />
      <serviceTask id="step" camunda:type="external" camunda:topic="step" />
      <sequenceFlow id="s2" sourceRef="step" targetRef="we" /><endEvent id="we" />
    </subProcess>
    <sequenceFlow id="f2" sourceRef="work" targetRef="end" /><endEvent id="end" />
    <subProcess id="on_fail" triggeredByEvent="true">
      <startEvent id="es"><errorEventDefinition errorRef="fail"
        camunda:errorCodeVariable="code" /></startEvent>
      <sequenceFlow id="e1" sourceRef="es" targetRef="handle" />
      <serviceTask id="handle" camunda:type="external" camunda:topic="handle" />
      <sequenceFlow id="e2" sourceRef="handle" targetRef="ee" /><endEvent id="ee" />
    </subProcess>
  </process>
</definitions>"""
)


async def test_a_message_on_a_multi_instance_task_cancels_every_instance(
    client: httpx.AsyncClient,
) -> None:
    await deploy_xml(client, MESSAGE_ON_BODY)
    pi = await start(client, "mi", businessKey="b-1")
    tasks = await fetch(client, ["work"])
    assert len(tasks) == 3
    await act(client, tasks[0], ("complete", {}, None))  # one instance done, two running
    stopped = await message(client, "Stop", businessKey="b-1")
    assert stopped.status_code == 204, stopped.text
    for task in tasks[1:]:
        await assert_gone(client, task)
    assert await fetch(client, ["work"]) == []
    [cleanup] = await fetch(client, ["cleanup"])
    again = await message(client, "Stop", businessKey="b-1")
    assert again.status_code == 400  # the subscription closed with the activity
    await act(client, cleanup, ("complete", {}, None))
    await assert_ended(client, pi, "COMPLETED")


async def test_an_error_in_one_instance_reaches_an_error_event_sub_process(
    client: httpx.AsyncClient,
) -> None:
    await deploy_xml(client, ERROR_FROM_AN_INSTANCE)
    pi = await start(client, "mi")
    steps = await fetch(client, ["step"])
    assert len(steps) == 3
    await act(client, steps[0], ("error", "FAIL", "broken", {}))
    for task in steps[1:]:
        await assert_gone(client, task)  # the interrupting handler cancelled the whole scope
    [handle] = await fetch(client, ["handle"])
    seen = {k: v["value"] for k, v in handle["variables"].items()}
    assert seen["code"] == "FAIL"
    await act(client, handle, ("complete", {}, None))
    await assert_ended(client, pi, "COMPLETED")
