"""Timers (intermediate and boundary, interrupting or not) and messages."""

from __future__ import annotations

import pytest

from redtask.broker.engine import NewTimer, NoMatch, Subscription, UnknownTimer, Wait
from tests.broker.engine.driver import HOUR, NOW, Instance

JAN_2030_9H_CET = 1_893_484_800_000  # 2030-01-01T08:00:00Z


def test_intermediate_timers_wait_until_fired() -> None:
    pi = Instance("timer_catch.bpmn")
    assert pi.path == ["start", "wait"]
    assert pi.effects.timers_scheduled == (NewTimer("2", NOW + 26 * HOUR, "1", "wait"),)
    assert pi.state.execution("1").wait == Wait("timer", "2")
    pi.fire("2")
    assert pi.path == ["until"]
    assert pi.effects.timers_scheduled == (NewTimer("3", JAN_2030_9H_CET, "1", "until"),)
    assert pi.effects.timers_cancelled == ()
    pi.fire("3")
    assert pi.path == ["end"]
    assert pi.state.status == "completed"


def test_an_unknown_timer_is_refused() -> None:
    pi = Instance("timer_catch.bpmn")
    with pytest.raises(UnknownTimer, match="Timer with id 99 does not exist"):
        pi.fire("99")


def test_boundary_timers_start_with_the_activity() -> None:
    pi = Instance("boundary_timer.bpmn", {"reminderDelay": "PT1H"})
    assert pi.path == ["start", "approve"]
    assert pi.effects.timers_scheduled == (
        NewTimer("3", NOW + HOUR, "1", "remind"),
        NewTimer("4", NOW + 48 * HOUR, "1", "expire"),
    )
    assert pi.created == {"approve": "5"}


def test_a_non_interrupting_timer_starts_a_parallel_path_and_keeps_the_activity() -> None:
    pi = Instance("boundary_timer.bpmn", {"reminderDelay": "PT1H"})
    pi.fire("3")
    assert pi.path == ["remind", "send_reminder"]
    assert pi.effects.tasks_deleted == ()
    assert pi.tasks == {"approve": "5", "send_reminder": "8"}
    assert [t.id for t in pi.state.timers] == ["4"]
    pi.complete("5")
    assert pi.path == ["end"]
    assert pi.effects.timers_cancelled == ("4",)  # the activity ended: its timers go
    assert pi.state.status == "active"
    pi.complete("8")
    assert pi.state.status == "completed"


def test_an_interrupting_timer_cancels_the_activity() -> None:
    pi = Instance("boundary_timer.bpmn", {"reminderDelay": "PT1H"})
    pi.fire("4")
    assert pi.path == ["expire", "expired"]
    assert pi.effects.tasks_deleted == ("5",)
    assert pi.effects.timers_cancelled == ("3",)
    assert pi.state.status == "completed"


def test_messages_are_awaited_by_catch_events_and_receive_tasks() -> None:
    pi = Instance("messages.bpmn", business_key="order-1")
    assert pi.path == ["start", "paid"]
    paid = Subscription("PaymentReceived", "1", "paid", "order-1")
    assert pi.effects.subscriptions_opened == (paid,)
    assert pi.correlate("PaymentReceived", {"amount": 10}) == "1"
    assert pi.path == ["shipped"]
    shipped = Subscription("Shipped", "1", "shipped", "order-1")
    assert pi.effects.subscriptions_opened == (shipped,)
    assert pi.effects.subscriptions_closed == ()
    assert pi.variables == {"amount": 10}
    pi.correlate("Shipped")
    assert pi.path == ["end"]
    assert pi.state.status == "completed"


def test_a_message_nobody_waits_for_does_not_match() -> None:
    pi = Instance("messages.bpmn")
    with pytest.raises(NoMatch, match="Cannot correlate message 'Shipped'"):
        pi.correlate("Shipped")


def test_cancel_closes_open_subscriptions() -> None:
    pi = Instance("messages.bpmn")
    pi.cancel()
    assert pi.effects.subscriptions_closed == (Subscription("PaymentReceived", "1", "paid", None),)
