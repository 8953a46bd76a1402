"""Timer cycles in the engine: a non-interrupting boundary event re-arms its cycle each time it
fires, until the cycle is exhausted or the activity ends (a non-interrupting timer event
sub-process too, while its scope runs); the state keeps the cycle (its
expression evaluated once) and the occurrence's index across a JSON round trip."""

from __future__ import annotations

from redtask.broker.bpmn import parse_bpmn
from redtask.broker.engine import CounterIds, NewTimer, Timer, fire_timer, start
from tests.broker.engine.driver import HOUR, NOW, Instance


def test_a_boundary_cycle_re_arms_until_it_is_exhausted() -> None:
    pi = Instance("boundary_cycle.bpmn", {"reminderCycle": "R2/PT1H"})
    assert pi.effects.timers_scheduled[0] == NewTimer("3", NOW + HOUR, "1", "remind")
    assert pi.state.timers[0] == Timer("3", "1", "remind", NOW + HOUR, 1, "R2/PT1H")
    pi.now = NOW + HOUR
    pi.fire("3")
    assert pi.path == ["remind", "send_reminder"]
    assert pi.effects.timers_scheduled == (NewTimer("6", NOW + 2 * HOUR, "1", "remind"),)
    assert [t for t in pi.state.timers if t.element_id == "remind"] == [
        Timer("6", "1", "remind", NOW + 2 * HOUR, 2, "R2/PT1H")
    ]
    pi.now = NOW + 2 * HOUR
    pi.fire("6")  # the second and last occurrence
    assert pi.effects.timers_scheduled == ()
    assert [t.element_id for t in pi.state.timers] == ["expire"]
    assert sorted(pi.tasks) == ["approve", "send_reminder"]


def test_the_cycle_ends_with_its_activity() -> None:
    pi = Instance("boundary_cycle.bpmn", {"reminderCycle": "R/PT1H"})
    pi.now = NOW + HOUR
    pi.fire("3")
    [approve] = [t for a, t in pi.tasks.items() if a == "approve"]
    pi.complete(approve)
    assert sorted(pi.effects.timers_cancelled) == ["4", "6"]  # the expiry and the next reminder
    assert pi.state.timers == ()


EVENT_SUB_PROCESS = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="cycles">
  <process id="p" isExecutable="true">
    <startEvent id="s"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="work"/>
    <serviceTask id="work" camunda:type="external" camunda:topic="work"/>
    <sequenceFlow id="f2" sourceRef="work" targetRef="e"/>
    <endEvent id="e"/>
    <subProcess id="reminders" triggeredByEvent="true">
      <startEvent id="tick" isInterrupting="false">
        <timerEventDefinition><timeCycle>R2/PT1H</timeCycle></timerEventDefinition>
      </startEvent>
      <sequenceFlow id="f3" sourceRef="tick" targetRef="remind"/>
      <serviceTask id="remind" camunda:type="external" camunda:topic="remind"/>
      <sequenceFlow id="f4" sourceRef="remind" targetRef="done"/>
      <endEvent id="done"/>
    </subProcess>
  </process>
</definitions>"""


def test_a_non_interrupting_timer_event_sub_process_re_arms_its_cycle() -> None:
    [model] = parse_bpmn(EVENT_SUB_PROCESS, "reminders.bpmn")
    ids = CounterIds()
    state, effects = start(model, "pi", {}, None, None, NOW, ids)
    [first] = effects.timers_scheduled
    assert first.due_ms == NOW + HOUR
    state, effects = fire_timer(model, state, first.id, NOW + HOUR, ids)
    [second] = effects.timers_scheduled
    assert second.due_ms == NOW + 2 * HOUR
    assert [t.topic for t in effects.tasks_created] == ["remind"]
    state, effects = fire_timer(model, state, second.id, NOW + 2 * HOUR, ids)
    assert effects.timers_scheduled == ()  # the second and last occurrence
    assert [t.topic for t in effects.tasks_created] == ["remind"]
    assert state.timers == ()
