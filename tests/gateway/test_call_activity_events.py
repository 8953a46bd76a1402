"""Call activities with the event constructs, through the REST API: message and signal
boundary events on a call activity, and a signal a called instance throws reaching its caller."""

from __future__ import annotations

import httpx

from tests.gateway.call_helpers import (
    activities,
    chain,
    child_of,
    deploy_xml,
    history_state,
    one_task,
    process,
    task,
)
from tests.gateway.constructs_helpers import act, fetch, start
from tests.gateway.event_helpers import message, signal

MESSAGES = '<bpmn:message id="m" name="Stop" /><bpmn:signal id="sg" name="Halt" />'


def _guarded(key: str, called: str, definition: str, interrupting: bool = True) -> bytes:
    """start -> call activity -> end, with a boundary event ``definition`` leading to 'handle'."""
    cancel = "" if interrupting else ' cancelActivity="false"'
    body = (
        f'<bpmn:startEvent id="s" /><bpmn:callActivity id="call" calledElement="{called}" />'
        '<bpmn:endEvent id="e" />'
        f'<bpmn:boundaryEvent id="b" attachedToRef="call"{cancel}>{definition}'
        f'</bpmn:boundaryEvent>{task("handle", "handle-" + key)}<bpmn:endEvent id="he" />'
    )
    return process(key, body + chain("s", "call", "e") + chain("b", "handle", "he"), MESSAGES)


async def test_a_message_boundary_event_interrupts_the_call_and_ends_the_called_instance(
    client: httpx.AsyncClient,
) -> None:
    definition = '<bpmn:messageEventDefinition messageRef="m" />'
    await deploy_xml(
        client, one_task("msg_child", "msg-child"), _guarded("mb", "msg_child", definition)
    )
    pi = await start(client, "mb")
    child = await child_of(client, pi)
    response = await message(client, "Stop", processInstanceId=pi)
    assert response.status_code == 204, response.text
    assert await history_state(client, child) == "INTERNALLY_TERMINATED"
    assert await activities(client, pi) == ["s", "call!", "b", "handle…"]
    assert [t["topicName"] for t in await fetch(client, ["msg-child", "handle-mb"])] == [
        "handle-mb"
    ]


async def test_a_non_interrupting_signal_boundary_event_keeps_the_call_running(
    client: httpx.AsyncClient,
) -> None:
    definition = '<bpmn:signalEventDefinition signalRef="sg" />'
    caller = _guarded("sb", "sig_child", definition, interrupting=False)
    await deploy_xml(client, one_task("sig_child", "sig-child"), caller)
    pi = await start(client, "sb")
    child = await child_of(client, pi)
    response = await signal(client, "Halt")
    assert response.status_code == 204, response.text
    assert await history_state(client, child) == "ACTIVE"
    assert await activities(client, pi) == ["s", "call…", "b", "handle…"]
    [work] = await fetch(client, ["sig-child"])
    await act(client, work, ("complete", {}, None))
    assert await history_state(client, child) == "COMPLETED"
    assert await activities(client, pi) == ["s", "call", "b", "handle…", "e"]


async def test_a_signal_a_called_instance_throws_reaches_a_catch_event_of_its_caller(
    client: httpx.AsyncClient,
) -> None:
    thrower = process(
        "throws_halt",
        '<bpmn:startEvent id="s" /><bpmn:endEvent id="e">'
        '<bpmn:signalEventDefinition signalRef="sg" /></bpmn:endEvent>' + chain("s", "e"),
        MESSAGES,
    )
    body = (
        '<bpmn:startEvent id="s" /><bpmn:parallelGateway id="fork" />'
        '<bpmn:intermediateCatchEvent id="wait"><bpmn:signalEventDefinition signalRef="sg" />'
        "</bpmn:intermediateCatchEvent>"
        + task("after", "after-halt")
        + '<bpmn:endEvent id="e1" />'
        + task("first", "first-halt")
        + '<bpmn:callActivity id="call" calledElement="throws_halt" /><bpmn:endEvent id="e2" />'
    )
    flows = chain("s", "fork", "wait", "after", "e1") + chain("fork", "first", "call", "e2")
    await deploy_xml(client, thrower, process("catches_halt", body + flows, MESSAGES))
    pi = await start(client, "catches_halt")
    [first] = await fetch(client, ["first-halt"])
    await act(client, first, ("complete", {}, None))
    [after] = await fetch(client, ["after-halt"])
    assert after["processInstanceId"] == pi
    history = await activities(client, pi)
    assert "wait" in history and "call" in history
