"""Event subscriptions in the pure engine: an event-based gateway's waits are cancelled by the
event that wins, message boundary events keep or cancel their activity, and a signal throw
reaches each subscription once, however often it is delivered."""

from __future__ import annotations

import pytest

from redtask.broker.engine import (
    EventSubscription,
    NoMatch,
    Subscription,
    UnknownTimer,
    receive_signal,
    signal_waiters,
)
from tests.broker.engine.driver import Instance


def signal(pi: Instance, throw_id: str, thrown_ms: int | None = None) -> bool:
    """Deliver the throw; whether it reached anything."""
    ms = pi.now if thrown_ms is None else thrown_ms
    step = receive_signal(pi.model, pi.state, "Go", ms, throw_id, {}, pi.now, pi.ids)
    if step is None:
        return False
    pi._step(*step)
    return True


def test_the_message_after_the_gateway_cancels_its_timer() -> None:
    pi = Instance("event_waits.bpmn", business_key="k")
    assert pi.path == ["start", "gw"]
    [timer] = pi.effects.timers_scheduled
    assert (timer.element_id, timer.due_ms - pi.now) == ("late", 3_600_000)
    assert pi.effects.subscriptions_opened == (Subscription("Paid", "1", "paid", "k"),)
    assert pi.correlate("Paid") == "1"
    assert pi.path == ["paid", "work"]
    assert pi.effects.timers_cancelled == (timer.id,)
    assert pi.state.timers == ()
    with pytest.raises(UnknownTimer):
        pi.fire(timer.id)


def test_the_timer_closes_the_gateways_message_subscription() -> None:
    pi = Instance("event_waits.bpmn")
    [timer] = pi.effects.timers_scheduled
    pi.fire(timer.id)
    assert pi.path == ["late", "too_late"]
    assert pi.effects.subscriptions_closed == (Subscription("Paid", "1", "paid", None),)
    assert pi.state.status == "completed"
    assert pi.state.subscriptions == ()


def test_a_signal_throw_reaches_a_non_interrupting_boundary_once() -> None:
    pi = Instance("event_waits.bpmn")
    pi.correlate("Paid")
    [sub] = [s for s in pi.state.subscriptions if s.kind == "signal"]
    assert sub == EventSubscription("1", "nudged", "signal", "Go", pi.now)
    assert signal(pi, "throw-1")
    assert pi.path == ["nudged", "nudge_end"]
    assert not signal(pi, "throw-1")  # delivered again: nothing happens
    assert signal(pi, "throw-2")  # another throw of the same millisecond takes it
    assert not signal(pi, "early", pi.now - 1)  # thrown before the subscription existed
    assert list(pi.tasks) == ["work"]


def test_an_interrupting_message_boundary_closes_the_other_subscriptions() -> None:
    pi = Instance("event_waits.bpmn")
    pi.correlate("Paid")
    [task] = pi.created.values()
    pi.correlate("Cancel")
    assert pi.path == ["cancelled", "cancel_end"]
    assert pi.effects.tasks_deleted == (task,)
    assert pi.state.status == "completed"
    assert pi.state.subscriptions == ()
    assert signal_waiters(pi.state, "Go", pi.now, "x") == []


def test_a_message_reaches_the_boundary_only_while_the_task_runs() -> None:
    pi = Instance("event_waits.bpmn")
    with pytest.raises(NoMatch):
        pi.correlate("Cancel")  # the task has not started
    pi.correlate("Paid")
    [task] = pi.created.values()
    pi.complete(task)
    assert pi.path == ["done"]
    assert sorted(s.message_name for s in pi.effects.subscriptions_closed) == ["Cancel"]
