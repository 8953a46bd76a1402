"""The activity instances each step reports (``Effects.activities``): entered and left at once,
started and ended by a later step, interrupted; joins and catch events wait in one too."""

from __future__ import annotations

from redtask.broker.engine import ActivityEvent, cancel
from tests.broker.engine.driver import Instance


def brief(events: tuple[ActivityEvent, ...]) -> list[tuple[str, str | None, str]]:
    """(activity id, its activity instance id or None, what happened) per event."""
    kinds = {(True, True): "passed", (True, False): "started", (False, True): "ended"}
    return [(e.activity_id, e.id, kinds[(e.started, e.ended)]) for e in events]


def test_a_parallel_join_is_one_activity_instance_per_arriving_token() -> None:
    pi = Instance("parallel_gateway.bpmn")
    assert brief(pi.effects.activities) == [
        ("start", None, "passed"),
        ("fork", None, "passed"),
        ("pack", "pack:3", "started"),
        ("bill", "bill:5", "started"),
    ]
    assert pi.effects.activities[2].task_id == pi.tasks["pack"]
    assert {e.parent_id for e in pi.effects.activities} == {"pi"}
    pi.complete(pi.tasks["pack"])
    assert brief(pi.effects.activities) == [
        ("pack", "pack:3", "ended"),
        ("join", "join:a1", "started"),
    ]
    pi.complete(pi.tasks["bill"])
    assert brief(pi.effects.activities) == [
        ("bill", "bill:5", "ended"),
        ("join", "join:a2", "started"),
        ("join", "join:a2", "ended"),
        ("join", "join:a1", "ended"),
        ("end", None, "passed"),
    ]
    assert pi.effects.activities[-1].complete_scope
    assert pi.effects.end_activity_id == "end"


def test_catch_events_wait_in_an_activity_instance_until_their_message_comes() -> None:
    pi = Instance("messages.bpmn")
    assert brief(pi.effects.activities) == [
        ("start", None, "passed"),
        ("paid", "paid:a1", "started"),
    ]
    pi.correlate("PaymentReceived")
    assert brief(pi.effects.activities) == [
        ("paid", "paid:a1", "ended"),
        ("shipped", "shipped:a2", "started"),
    ]


def test_a_deleted_instance_cancels_what_it_waited_in() -> None:
    pi = Instance("parallel_gateway.bpmn")
    _, effects = cancel(pi.model, pi.state)
    assert [(e.activity_id, e.canceled) for e in effects.activities] == [
        ("pack", True),
        ("bill", True),
    ]
    assert effects.end_activity_id is None
