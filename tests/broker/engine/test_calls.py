"""Call activities in the pure engine: what entering one asks for, and the called instance's
end, error or deletion coming back to the caller."""

from __future__ import annotations

import pytest

from redtask.broker.bpmn import parse_bpmn
from redtask.broker.engine import (
    MAX_CALL_DEPTH,
    CallLink,
    CallTooDeep,
    CounterIds,
    Effects,
    InstanceState,
    UnknownCall,
    call_error,
    cancel_call,
    complete_call,
    start,
)
from tests.broker.engine.driver import NOW, round_trip, typed, typed_map

CALLER = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
  <error id="e1" errorCode="E1" />
  <process id="caller" isExecutable="true">
    <startEvent id="s" />
    <sequenceFlow id="f1" sourceRef="s" targetRef="sub" />
    <subProcess id="sub">
      <startEvent id="ss" />
      <sequenceFlow id="f2" sourceRef="ss" targetRef="call" />
      <callActivity id="call" calledElement="${key}" camunda:calledElementBinding="version"
                    camunda:calledElementVersion="3">
        <extensionElements>
          <camunda:in businessKey="#{order}" />
          <camunda:in source="order" target="id" />
          <camunda:out source="result" target="result" />
        </extensionElements>
      </callActivity>
      <sequenceFlow id="f3" sourceRef="call" targetRef="se" />
      <endEvent id="se" />
      <boundaryEvent id="on_e1" attachedToRef="call"><errorEventDefinition errorRef="e1" />
      </boundaryEvent>
      <sequenceFlow id="f5" sourceRef="on_e1" targetRef="caught" />
      <endEvent id="caught" />
    </subProcess>
    <boundaryEvent id="on_any" attachedToRef="sub"><errorEventDefinition /></boundaryEvent>
    <sequenceFlow id="f4" sourceRef="sub" targetRef="e" />
    <endEvent id="e" />
    <sequenceFlow id="f6" sourceRef="on_any" targetRef="caught_any" />
    <endEvent id="caught_any" />
  </process>
</definitions>"""

[MODEL] = parse_bpmn(CALLER, "caller.bpmn")


def _started() -> tuple[InstanceState, Effects, CounterIds]:
    ids = CounterIds()
    state, effects = start(
        MODEL, "pi", typed_map({"key": "child", "order": "o1"}), None, "t1", NOW, ids
    )
    return round_trip(state), effects, ids


def test_entering_a_call_activity_asks_for_the_called_instance() -> None:
    state, effects, _ = _started()
    [call] = effects.calls
    token = state.waiting("call", call.instance_id)
    assert token is not None and token.element_id == "call"
    assert (call.key, call.binding, call.version, call.business_key) == (
        "child",
        "version",
        "3",
        "o1",
    )
    assert call.tenant_id == "t1"  # the caller's tenant by default
    assert call.variables == {"id": typed("o1")}
    # the caller catches E1 on the call activity and every code on the enclosing sub-process
    assert call.link == CallLink("pi", token.id, "pi", 1, ("E1",), True)
    assert [a.activity_id for a in effects.activities if a.started] == ["s", "sub", "ss", "call"]


def test_the_called_instance_completing_maps_out_and_continues() -> None:
    state, effects, ids = _started()
    child = effects.calls[0].instance_id
    state, effects = complete_call(MODEL, state, child, {"result": typed(7)}, NOW, ids)
    assert state.status == "completed"
    assert state.variables["result"] == typed(7)
    assert effects.path == ("se", "e")
    with pytest.raises(UnknownCall):
        complete_call(MODEL, _started()[0], "nobody", {}, NOW, ids)


def test_an_error_from_the_called_instance_is_thrown_by_the_call_activity() -> None:
    state, effects, ids = _started()
    child = effects.calls[0].instance_id
    state, effects = call_error(MODEL, state, child, "E1", "m", {"result": typed(1)}, NOW, ids)
    assert effects.path == ("on_e1", "caught", "e")
    assert state.variables["result"] == typed(1)
    assert effects.calls_cancelled == ()  # the called instance already ended


def test_deleting_the_called_instance_cancels_the_call_and_its_empty_scopes() -> None:
    state, effects, ids = _started()
    child = effects.calls[0].instance_id
    state, effects = cancel_call(MODEL, state, child, ids)
    assert state.status == "terminated" and effects.ended == "terminated"
    ended = [(a.activity_id, a.canceled) for a in effects.activities if a.ended]
    assert ended == [("call", True), ("sub", True)]


def test_called_instances_know_their_depth_and_root_and_nest_boundedly() -> None:
    body = CALLER.replace(b'calledElement="${key}"', b'calledElement="again"')
    [model] = parse_bpmn(body.replace(b'camunda:calledElementBinding="version"', b""), "x.bpmn")
    link = CallLink("parent", "ex", "root", 2, ("E1",), False)
    child, effects = start(
        model, "child", typed_map({"order": "x"}), None, None, NOW, CounterIds(), call=link
    )
    assert round_trip(child).call == link
    assert effects.calls[0].link.depth == 3 and effects.calls[0].link.root_instance_id == "root"
    deep = CallLink("parent", "ex", "root", MAX_CALL_DEPTH, (), False)
    with pytest.raises(CallTooDeep, match=f"at most {MAX_CALL_DEPTH} levels deep"):
        start(model, "child", typed_map({"order": "x"}), None, None, NOW, CounterIds(), call=deep)


FAILING = b"""<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" targetNamespace="t">
  <error id="e1" errorCode="E1" />
  <process id="failing" isExecutable="true">
    <startEvent id="s" /><sequenceFlow id="f" sourceRef="s" targetRef="fail" />
    <endEvent id="fail"><errorEventDefinition errorRef="e1" /></endEvent>
  </process>
</definitions>"""


def test_an_error_only_a_caller_catches_ends_the_called_instance() -> None:
    [model] = parse_bpmn(FAILING, "failing.bpmn")
    caught = CallLink("parent", "ex", "parent", 1, ("E1",), False)
    state, effects = start(model, "c", {}, None, None, NOW, CounterIds(), call=caught)
    assert (state.status, effects.escalated) == ("terminated", ("E1", None))
    elsewhere = CallLink("parent", "ex", "parent", 1, ("E2",), False)
    state, effects = start(model, "c", {}, None, None, NOW, CounterIds(), call=elsewhere)
    assert (state.status, effects.escalated) == ("completed", None)  # uncaught: the path ends


def test_a_multi_instance_call_activity_calls_one_instance_per_instance() -> None:
    loop = (
        b"<multiInstanceLoopCharacteristics><loopCardinality>2</loopCardinality>"
        b"</multiInstanceLoopCharacteristics></callActivity>"
    )
    xml = CALLER.replace(b"</callActivity>", loop).replace(
        b'<camunda:in source="order" target="id" />',
        b'<camunda:in source="loopCounter" target="index" />',
    )
    [model] = parse_bpmn(xml, "mi_caller.bpmn")
    ids = CounterIds()
    state, effects = start(model, "pi", typed_map({"key": "k", "order": "o"}), None, None, NOW, ids)
    state = round_trip(state)
    assert [c.variables for c in effects.calls] == [{"index": typed(0)}, {"index": typed(1)}]
    first, second = (c.instance_id for c in effects.calls)
    started = [a.activity_id for a in effects.activities if a.started]
    assert started == ["s", "sub", "ss", "call#multiInstanceBody", "call", "call"]
    state, effects = complete_call(model, state, first, {"result": typed(1)}, NOW, ids)
    assert state.status == "active" and state.waiting("call", second) is not None
    state, effects = complete_call(model, round_trip(state), second, {}, NOW, ids)
    assert state.status == "completed" and effects.path == ("se", "e")


EVENT_SUB_PROCESSES = b"""<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
  <error id="e1" errorCode="E1" />
  <process id="caller" isExecutable="true">
    <startEvent id="s" /><sequenceFlow id="f1" sourceRef="s" targetRef="call" />
    <callActivity id="call" calledElement="child" />
    <sequenceFlow id="f2" sourceRef="call" targetRef="e" /><endEvent id="e" />
    <subProcess id="on_e1" triggeredByEvent="true">
      <startEvent id="es"><errorEventDefinition errorRef="e1"
        camunda:errorCodeVariable="code" camunda:errorMessageVariable="why" /></startEvent>
      <sequenceFlow id="f3" sourceRef="es" targetRef="inner_call" />
      <callActivity id="inner_call" calledElement="child" />
      <sequenceFlow id="f4" sourceRef="inner_call" targetRef="ee" /><endEvent id="ee" />
    </subProcess>
  </process>
</definitions>"""


def test_an_error_event_sub_process_catches_an_error_of_the_called_instance() -> None:
    [model] = parse_bpmn(EVENT_SUB_PROCESSES, "caller.bpmn")
    ids = CounterIds()
    state, effects = start(model, "pi", {}, None, None, NOW, ids)
    [call] = effects.calls
    assert (call.link.caught, call.link.catch_all) == (("E1",), False)
    state, effects = call_error(model, state, call.instance_id, "E1", "m", {}, NOW, ids)
    assert effects.path == ("on_e1", "es", "inner_call")
    assert state.variables == {"code": typed("E1"), "why": typed("m")}
    assert effects.calls_cancelled == ()  # the called instance already ended
    assert ("call", True) in [(a.activity_id, a.canceled) for a in effects.activities if a.ended]
    # a call inside the event sub-process is not caught by that event sub-process's own start
    [inner] = effects.calls
    assert (inner.link.caught, inner.link.catch_all) == ((), False)
