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
class Effects:
    """``path`` lists the element ids entered, in order; ``ended`` says whether (and how) the
    instance ended in this step: a terminate end event at process level *completes* it, as in
    Camunda; only :func:`cancel` terminates it. ``activities``: the activity instances the step
    started and ended, in order; ``end_activity_id``: the element that completed the instance
    (its last end event), when it completed in this step; ``signals_thrown``: the names of the
    signals its throw and end events broadcast, in order (delivered to every instance after
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
    signals: list[str] = field(default_factory=list)

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
            signals_thrown=tuple(self.signals),
        )
