"""Timer cycles in the engine: a non-interrupting boundary event re-arms its cycle each time it
fires, until the cycle is exhausted or the activity ends; the state keeps the cycle (its
expression evaluated once) and the occurrence's index across a JSON round trip."""

from __future__ import annotations

from redtask.broker.engine import NewTimer, Timer
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
