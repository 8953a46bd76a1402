"""Assertions on one external task, on the tasks of a topic and on the open incidents (see
:mod:`redtask.testing.assertions`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from redtask.broker.model import ExternalTask, Incident
from redtask.testing.describing import (
    TASK_STATES,
    Expected,
    TaskStateName,
    describe_incident,
    describe_task,
    incident_matches,
    incident_wanted,
    matches,
    python_values,
    show,
    stored_state,
    task_state,
    variable_problems,
)


class TaskAssert:
    """Checks on one external task (as read once)."""

    __slots__ = ("incident", "now_ms", "task")

    def __init__(self, task: ExternalTask, incident: Incident | None, now_ms: int | None) -> None:
        self.task = task
        self.incident = incident
        self.now_ms = now_ms

    @property
    def state(self) -> TaskStateName:
        """As a worker sees it at the broker's time (see :func:`task_state`)."""
        return (
            stored_state(self.task) if self.now_ms is None else task_state(self.task, self.now_ms)
        )

    @property
    def variables(self) -> dict[str, Any]:
        return python_values(self.task.variables)

    def describe(self) -> str:
        text = describe_task(self.task, self.now_ms)
        if self.incident is not None:
            text += f"\n  {describe_incident(self.incident)}"
        return text

    def _fail(self, expectation: str, actual: str) -> AssertionError:
        return AssertionError(
            f"Expecting task {self.task.id} {expectation}, but {actual}.\n  {self.describe()}"
        )

    def is_available(self) -> TaskAssert:
        if self.state != "available":
            raise self._fail("to be available (fetchable)", f"it is {self.state}")
        return self

    def is_locked(self, by: str | None = None) -> TaskAssert:
        expectation = "to be locked" + (f" by {by!r}" if by else "")
        if self.state != "locked":
            raise self._fail(expectation, f"it is {self.state}")
        if by is not None and self.task.worker_id != by:
            raise self._fail(expectation, f"{self.task.worker_id!r} holds it")
        return self

    def is_retrying(self) -> TaskAssert:
        """Failed with retries left, waiting out its retry timeout."""
        if self.state != "retrying":
            raise self._fail("to be waiting for its retry", f"it is {self.state}")
        return self

    def is_at(self, activity_id: str) -> TaskAssert:
        if self.task.activity_id != activity_id:
            raise self._fail(f"to be at {activity_id!r}", f"it is at {self.task.activity_id!r}")
        return self

    def has_retries(self, retries: int | None) -> TaskAssert:
        if self.task.retries != retries:
            raise self._fail(f"to have retries {retries}", f"it has {self.task.retries}")
        return self

    def has_failed(
        self, *, retries_left: int | None = None, message: Expected | None = None
    ) -> TaskAssert:
        """A failure was reported (its error message is set); ``retries_left``: the retries
        that failure left (0 means an incident); ``message``: the error message (equal to a
        str, found by a compiled pattern)."""
        wanted = []
        if retries_left is not None:
            wanted.append(f"{retries_left} retries left")
        if message is not None:
            wanted.append(f"message {show(message)}")
        expectation = "to have failed" + (" with " + ", ".join(wanted) if wanted else "")
        if self.task.error_message is None:
            raise self._fail(expectation, "no failure was reported")
        if retries_left is not None and self.task.retries != retries_left:
            raise self._fail(expectation, f"it has {self.task.retries} retries left")
        if message is not None and not matches(self.task.error_message, message):
            raise self._fail(expectation, f"its error message is {self.task.error_message!r}")
        return self

    def has_error_details(self, details: Expected) -> TaskAssert:
        if not matches(self.task.error_details, details):
            raise self._fail(
                f"to have error details {show(details)}", f"they are {self.task.error_details!r}"
            )
        return self

    def has_incident(self, message: Expected | None = None) -> TaskAssert:
        """Retries are exhausted and the task carries an open incident (with this message)."""
        expectation = "to have " + incident_wanted(message, None, None, None)
        if self.incident is None:
            raise self._fail(expectation, f"it has none (it is {self.state})")
        if message is not None and not matches(self.incident.incident_message, message):
            raise self._fail(expectation, f"its message is {self.incident.incident_message!r}")
        return self

    def has_variables(self, *names: str, **values: Any) -> TaskAssert:
        problems = variable_problems(self.variables, names, values)
        if problems:
            wanted = list(names) + [f"{k}={v!r}" for k, v in values.items()]
            raise self._fail(f"to have variables {', '.join(wanted)}", "; ".join(problems))
        return self


class TopicAssert:
    """Checks on the tasks of one topic (as read once)."""

    __slots__ = ("name", "now_ms", "tasks")

    def __init__(self, name: str, tasks: Sequence[ExternalTask], now_ms: int) -> None:
        self.name = name
        self.tasks = list(tasks)
        self.now_ms = now_ms

    def count(self, state: TaskStateName | None = None) -> int:
        return len(self._in(state))

    def _in(self, state: TaskStateName | None) -> list[ExternalTask]:
        if state is not None and state not in TASK_STATES:
            raise ValueError(f"state must be one of {TASK_STATES}, not {state!r}")
        return [t for t in self.tasks if state is None or task_state(t, self.now_ms) == state]

    def describe(self) -> str:
        if not self.tasks:
            return f"topic {self.name!r} holds no task"
        states = Counter(task_state(t, self.now_ms) for t in self.tasks)
        summary = ", ".join(f"{states[s]} {s}" for s in TASK_STATES if states[s])
        lines = [f"topic {self.name!r}: {summary}"]
        lines += [f"  {describe_task(t, self.now_ms)}" for t in self.tasks]
        return "\n".join(lines)

    def has_tasks(self, count: int, *, state: TaskStateName | None = None) -> TopicAssert:
        """The topic holds ``count`` tasks (in ``state``: available, locked, retrying or
        incident; a lock that expired or a retry that is due counts as available)."""
        found = self.count(state)
        if found != count:
            what = f"{count} {state} tasks" if state else f"{count} tasks"
            raise AssertionError(
                f"Expecting topic {self.name!r} to hold {what}, but it holds {found}.\n"
                f"{self.describe()}"
            )
        return self

    def has_no_tasks(self) -> TopicAssert:
        return self.has_tasks(0)


class IncidentsAssert:
    """Checks on the open incidents (as read once)."""

    __slots__ = ("incidents",)

    def __init__(self, incidents: Iterable[Incident]) -> None:
        self.incidents = list(incidents)

    def describe(self) -> str:
        if not self.incidents:
            return "no open incidents"
        return "\n".join(f"  {describe_incident(i)}" for i in self.incidents)

    def has_incident(
        self,
        message: Expected | None = None,
        *,
        activity: str | None = None,
        instance: object | None = None,
        topic: str | None = None,
    ) -> IncidentsAssert:
        """At least one open incident matches (``instance``: a ProcessInstance or its id)."""
        iid = None if instance is None else str(instance)
        if not any(incident_matches(i, message, activity, iid, topic) for i in self.incidents):
            raise AssertionError(
                f"Expecting {incident_wanted(message, activity, iid, topic)}, but none "
                f"matches.\nOpen incidents:\n{self.describe()}"
            )
        return self

    def has_count(self, count: int) -> IncidentsAssert:
        if len(self.incidents) != count:
            raise AssertionError(
                f"Expecting {count} open incidents, but there are {len(self.incidents)}.\n"
                f"{self.describe()}"
            )
        return self

    def has_no_incidents(self) -> IncidentsAssert:
        return self.has_count(0)
