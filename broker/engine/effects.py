"""What a step asks the committing layer to do besides storing the new state.

Effects are net: an external task, timer or subscription created and cancelled within the same
step appears in neither list. The artefact that triggered the step (the completed or failed task,
the fired timer, the correlated subscription) is consumed by the caller's own operation and is not
listed as deleted, cancelled or closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from redtask.broker.engine.activities import ActivityEvent
from redtask.broker.engine.state import CallLink, TypedValue

Ending = Literal["completed", "terminated"]


@dataclass(frozen=True, slots=True)
class NewTask:
    """An external task to create; ``topic`` and ``priority`` are already evaluated.
    ``error_events``: its activity has ``camunda:errorEventDefinition`` expressions, which a
    failure of the task must evaluate (HandleExternalTaskFailureCmd)."""

    id: str
    topic: str
    priority: int
    activity_id: str
    activity_instance_id: str
    execution_id: str
    extension_properties: Mapping[str, str | None]
    tenant_id: str | None
    business_key: str | None
    error_events: bool = False


@dataclass(frozen=True, slots=True)
class NewTimer:
    id: str
    due_ms: int
    execution_id: str
    element_id: str


@dataclass(frozen=True, slots=True)
class Subscription:
    """A message subscription of a waiting catch event or receive task."""

    message_name: str
    execution_id: str
    element_id: str
    business_key: str | None


@dataclass(frozen=True, slots=True)
class NewCall:
    """An instance a call activity starts (id ``link``-ed to the calling token): the called
    process's ``key`` and how to choose its definition (``binding`` with ``version`` /
    ``version_tag``; ``tenant_id`` of the definition), evaluated; the child's first
    ``variables`` (the camunda:in mappings) and ``business_key``."""

    instance_id: str
    key: str
    binding: str
    version: str | None
    version_tag: str | None
    tenant_id: str | None
    business_key: str | None
    variables: Mapping[str, TypedValue]
    link: CallLink
    activity_id: str


@dataclass(frozen=True, slots=True)
class Effects:
    """``path`` lists the element ids entered, in order; ``ended`` says whether (and how) the
    instance ended in this step: a terminate end event at process level *completes* it, as in
    Camunda; only :func:`cancel` terminates it. ``activities``: the activity instances the step
    started and ended, in order; ``end_activity_id``: the element that completed the instance
    (its last end event), when it completed in this step. ``calls``: the instances call
    activities start (the committing layer starts them); ``calls_cancelled``: called instances
    to cancel with their call activity; ``escalated``: (code, message) of a BPMN error this
    sub-process instance does not catch and a calling instance does: the instance ended
    ("terminated") and the caller's call activity throws it. ``signals_thrown``: the names of
    the signals its throw and end events broadcast, in order (delivered to every instance after
    the step commits: ``broker.signal_delivery``)."""

    tasks_created: tuple[NewTask, ...] = ()
    tasks_deleted: tuple[str, ...] = ()
    timers_scheduled: tuple[NewTimer, ...] = ()
    timers_cancelled: tuple[str, ...] = ()
    subscriptions_opened: tuple[Subscription, ...] = ()
    subscriptions_closed: tuple[Subscription, ...] = ()
    ended: Ending | None = None
    path: tuple[str, ...] = ()
    activities: tuple[ActivityEvent, ...] = ()
    end_activity_id: str | None = None
    calls: tuple[NewCall, ...] = ()
    calls_cancelled: tuple[str, ...] = ()
    escalated: tuple[str, str | None] | None = None
    signals_thrown: tuple[str, ...] = ()


@dataclass(slots=True)
class EffectsBuilder:
    """Collects effects during one step (mutable; internal to the engine)."""

    tasks: dict[str, NewTask] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    timers: dict[str, NewTimer] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    opened: dict[Subscription, None] = field(default_factory=dict)  # an ordered set
    closed: list[Subscription] = field(default_factory=list)
    ended: Ending | None = None
    path: list[str] = field(default_factory=list)
    activities: list[ActivityEvent] = field(default_factory=list)
    end_activity_id: str | None = None
    calls: dict[str, NewCall] = field(default_factory=dict)
    calls_cancelled: list[str] = field(default_factory=list)
    escalated: tuple[str, str | None] | None = None
    signals: list[str] = field(default_factory=list)

    def cancel_call(self, instance_id: str) -> None:
        if self.calls.pop(instance_id, None) is None:
            self.calls_cancelled.append(instance_id)

    def delete_task(self, task_id: str) -> None:
        if self.tasks.pop(task_id, None) is None:
            self.deleted.append(task_id)

    def cancel_timer(self, timer_id: str) -> None:
        if self.timers.pop(timer_id, None) is None:
            self.cancelled.append(timer_id)

    def close(self, subscription: Subscription) -> None:
        if subscription in self.opened:
            del self.opened[subscription]
        else:
            self.closed.append(subscription)

    def build(self) -> Effects:
        return Effects(
            tasks_created=tuple(self.tasks.values()),
            tasks_deleted=tuple(self.deleted),
            timers_scheduled=tuple(self.timers.values()),
            timers_cancelled=tuple(self.cancelled),
            subscriptions_opened=tuple(self.opened),
            subscriptions_closed=tuple(self.closed),
            ended=self.ended,
            path=tuple(self.path),
            activities=tuple(self.activities),
            end_activity_id=self.end_activity_id,
            calls=tuple(self.calls.values()),
            calls_cancelled=tuple(self.calls_cancelled),
            escalated=self.escalated,
            signals_thrown=tuple(self.signals),
        )


def merge(first: Effects, then: Effects) -> Effects:
    """The net effects of two consecutive steps of one instance (committed together)."""
    created_tasks = {t.id for t in first.tasks_created}
    created_timers = {t.id for t in first.timers_scheduled}
    opened = set(first.subscriptions_opened)
    return Effects(
        tasks_created=tuple(t for t in first.tasks_created if t.id not in then.tasks_deleted)
        + then.tasks_created,
        tasks_deleted=first.tasks_deleted
        + tuple(t for t in then.tasks_deleted if t not in created_tasks),
        timers_scheduled=tuple(
            t for t in first.timers_scheduled if t.id not in then.timers_cancelled
        )
        + then.timers_scheduled,
        timers_cancelled=first.timers_cancelled
        + tuple(t for t in then.timers_cancelled if t not in created_timers),
        subscriptions_opened=tuple(
            s for s in first.subscriptions_opened if s not in then.subscriptions_closed
        )
        + then.subscriptions_opened,
        subscriptions_closed=first.subscriptions_closed
        + tuple(s for s in then.subscriptions_closed if s not in opened),
        ended=then.ended or first.ended,
        path=first.path + then.path,
        activities=first.activities + then.activities,
        end_activity_id=then.end_activity_id or first.end_activity_id,
        calls=first.calls + then.calls,
        calls_cancelled=first.calls_cancelled + then.calls_cancelled,
        escalated=then.escalated or first.escalated,
        signals_thrown=first.signals_thrown + then.signals_thrown,
    )
