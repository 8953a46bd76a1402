"""Assertions on process instances, topics, tasks and incidents, in the manner of
camunda-bpm-assert. Each is made from a snapshot the broker read once (``await kit.instance(pi)``),
so the checks are plain calls that chain::

    (await kit.instance(order)).is_waiting_at("ship_standard").has_variables(total=25.0)

A failing check raises AssertionError saying what was expected and what the instance (task,
topic) actually did: its state, where it waits, the elements it entered, its variables and
incidents.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from redtask.broker.engine import InstanceState
from redtask.broker.history import HistoricInstance
from redtask.broker.model import ExternalTask, Incident, TaskState
from redtask.worker.values import from_typed_map

TaskStateName = Literal["available", "locked", "retrying", "incident"]
TASK_STATES: tuple[TaskStateName, ...] = ("available", "locked", "retrying", "incident")
Expected = str | re.Pattern[str]
_MISSING = object()


def _matches(actual: str | None, expected: Expected) -> bool:
    """Equal to a str; for a compiled pattern, ``pattern.search`` finds it."""
    if actual is None:
        return False
    if isinstance(expected, re.Pattern):
        return expected.search(actual) is not None
    return actual == expected


def _show(expected: Expected) -> str:
    return f"matching /{expected.pattern}/" if isinstance(expected, re.Pattern) else repr(expected)


def _time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _values(typed: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return from_typed_map(typed)
    except Exception:  # a value the SDK cannot read (e.g. a malformed Json): show it raw
        return {name: value.get("value") for name, value in typed.items()}


def _variables_line(values: Mapping[str, Any]) -> str:
    if not values:
        return "none"
    return ", ".join(f"{name}={value!r}" for name, value in sorted(values.items()))


def task_state(task: ExternalTask, now_ms: int) -> TaskStateName:
    """The state a worker sees: a lock that expired, or a retry whose back-off is over, is
    available (fetchable) even before a sweep moved it."""
    if task.state is TaskState.INCIDENT:
        return "incident"
    due = task.lock_expiration_time
    if task.state is TaskState.LOCKED and due is not None and due > now_ms:
        return "locked"
    if task.state is TaskState.RETRY and due is not None and due > now_ms:
        return "retrying"
    return "available"


def describe_task(task: ExternalTask, now_ms: int | None = None) -> str:
    """One line: id, topic, activity, state, retries, error."""
    parts = [f"task {task.id} on topic {task.topic_name!r}"]
    if task.activity_id:
        parts.append(f"at {task.activity_id!r}")
    state = _stored(task) if now_ms is None else task_state(task, now_ms)
    if state == "locked":
        parts.append(f"locked by {task.worker_id!r} until {_time(task.lock_expiration_time)}")
    elif state == "retrying":
        parts.append(f"retrying at {_time(task.lock_expiration_time)}")
    else:
        parts.append(state)
    if task.retries is not None:
        parts.append(f"retries {task.retries}")
    if task.error_message is not None:
        parts.append(f"last error {task.error_message!r}")
    return ", ".join(parts)


def describe_incident(incident: Incident) -> str:
    where = f" at {incident.activity_id!r}" if incident.activity_id else ""
    instance = (
        f" of process instance {incident.process_instance_id}"
        if incident.process_instance_id
        else ""
    )
    return (
        f"incident {incident.id}{where}{instance} (topic {incident.topic_name!r}, task "
        f"{incident.configuration}): {incident.incident_message!r}"
    )


def _incident_matches(
    incident: Incident,
    message: Expected | None,
    activity: str | None,
    instance: str | None,
    topic: str | None,
) -> bool:
    return (
        (message is None or _matches(incident.incident_message, message))
        and (activity is None or incident.activity_id == activity)
        and (instance is None or incident.process_instance_id == instance)
        and (topic is None or incident.topic_name == topic)
    )


def _incident_wanted(
    message: Expected | None, activity: str | None, instance: str | None, topic: str | None
) -> str:
    wanted = []
    if message is not None:
        wanted.append(f"message {_show(message)}")
    if activity is not None:
        wanted.append(f"at {activity!r}")
    if instance is not None:
        wanted.append(f"of process instance {instance}")
    if topic is not None:
        wanted.append(f"on topic {topic!r}")
    return "an incident" + (" with " + ", ".join(wanted) if wanted else "")


# ---------------------------------------------------------------------- process instances
@dataclass(frozen=True, slots=True)
class InstanceSnapshot:
    """What the broker read of one instance: its engine state (None once forgotten), its
    history record, the elements it entered (None when its steps were not committed through
    this broker), its external tasks and open incidents."""

    id: str
    state: InstanceState | None
    historic: HistoricInstance | None
    path: list[str] | None
    tasks: list[ExternalTask]
    incidents: list[Incident]
    now_ms: int


class InstanceAssert:
    """Checks on one process instance; each returns the assertion, so they chain."""

    __slots__ = ("snapshot",)

    def __init__(self, snapshot: InstanceSnapshot) -> None:
        self.snapshot = snapshot

    # ------------------------------------------------------------ what was read
    @property
    def id(self) -> str:
        return self.snapshot.id

    @property
    def exists(self) -> bool:
        return self.snapshot.state is not None

    @property
    def status(self) -> str:
        """``active``, ``completed`` or ``terminated``; ``forgotten`` when not (or no longer)
        stored."""
        state = self.snapshot.state
        return "forgotten" if state is None else state.status

    @property
    def typed_variables(self) -> dict[str, dict[str, Any]]:
        state = self.snapshot.state
        return {} if state is None else {k: dict(v) for k, v in state.variables.items()}

    @property
    def variables(self) -> dict[str, Any]:
        """The process variables as Python values (as a handler receives them)."""
        return _values(self.typed_variables)

    @property
    def waiting_at(self) -> list[str]:
        """The activities a token is at now (external tasks, timers, messages, joins,
        sub-processes), in creation order; an activity with two tokens is listed twice."""
        state = self.snapshot.state
        if state is None or state.status != "active":
            return []
        return [e.element_id for e in state.executions if e.element_id is not None]

    @property
    def path(self) -> list[str] | None:
        """Every element the instance entered, in order; None when unknown to this broker."""
        return None if self.snapshot.path is None else list(self.snapshot.path)

    @property
    def passed(self) -> list[str]:
        """The elements entered and left at least once, in the order first entered."""
        path = self.snapshot.path or []
        entered, here = Counter(path), Counter(self.waiting_at)
        return [e for e in dict.fromkeys(path) if entered[e] > here[e]]

    @property
    def incidents(self) -> list[Incident]:
        return list(self.snapshot.incidents)

    @property
    def tasks(self) -> list[ExternalTask]:
        return list(self.snapshot.tasks)

    # ------------------------------------------------------------ description
    def describe(self) -> str:
        """Several lines: the instance, its state, where it waits, its path, variables,
        tasks and incidents."""
        snap, state = self.snapshot, self.snapshot.state
        if state is None:
            return (
                f"process instance {snap.id}: not stored (never started on this broker, or "
                "forgotten after its history retention)"
            )
        key = f", business key {state.business_key!r}" if state.business_key else ""
        lines = [f"process instance {snap.id} ({state.definition_id}{key})"]
        lines.append(f"  state:      {state.status}")
        if state.status == "active":
            waits = []
            for e in state.executions:
                if e.element_id is None:
                    continue
                wait = "" if e.wait is None else f" ({e.wait.kind} {e.wait.ref})"
                waits.append(f"{e.element_id}{wait}")
            lines.append(f"  waiting at: {', '.join(waits) or 'nothing'}")
        if snap.path is not None:
            lines.append(f"  path:       {' -> '.join(snap.path) or 'nothing entered'}")
        else:
            lines.append("  path:       unknown (its steps were not committed by this broker)")
        lines.append(f"  variables:  {_variables_line(_values(state.variables))}")
        for task in snap.tasks:
            lines.append(f"  {describe_task(task, snap.now_ms)}")
        for incident in snap.incidents:
            lines.append(f"  {describe_incident(incident)}")
        return "\n".join(lines)

    def _fail(self, expectation: str, actual: str) -> AssertionError:
        return AssertionError(
            f"Expecting process instance {self.id} {expectation}, but {actual}.\n{self.describe()}"
        )

    def _need_state(self, expectation: str) -> InstanceState:
        if self.snapshot.state is None:
            raise self._fail(expectation, "it is not stored")
        return self.snapshot.state

    def _need_path(self, expectation: str) -> list[str]:
        self._need_state(expectation)
        if self.snapshot.path is None:
            raise self._fail(
                expectation, "its path is unknown (it was not started through this broker)"
            )
        return self.snapshot.path

    # ------------------------------------------------------------ checks
    def does_not_exist(self) -> InstanceAssert:
        """Never started, or forgotten after its history retention."""
        if self.snapshot.state is not None:
            raise self._fail("not to be stored", f"it is {self.snapshot.state.status}")
        return self

    def is_active(self) -> InstanceAssert:
        state = self._need_state("to be active")
        if state.status != "active":
            raise self._fail("to be active", f"it is {state.status}")
        return self

    def is_ended(self) -> InstanceAssert:
        """Completed or terminated (cancelled)."""
        state = self._need_state("to be ended")
        if state.status == "active":
            raise self._fail("to be ended", f"it is waiting at {self.waiting_at}")
        return self

    def is_completed(self) -> InstanceAssert:
        state = self._need_state("to be completed")
        if state.status != "completed":
            raise self._fail("to be completed", f"it is {state.status}")
        return self

    def is_terminated(self) -> InstanceAssert:
        state = self._need_state("to be terminated")
        if state.status != "terminated":
            raise self._fail("to be terminated", f"it is {state.status}")
        return self

    def is_waiting_at(self, *activity_ids: str) -> InstanceAssert:
        """A token is at each of these activities now."""
        expectation = f"to be waiting at {list(activity_ids)}"
        state = self._need_state(expectation)
        if state.status != "active":
            raise self._fail(expectation, f"it is {state.status}")
        missing = [a for a in activity_ids if a not in self.waiting_at]
        if missing or not activity_ids:
            raise self._fail(expectation, f"it is waiting at {self.waiting_at}")
        return self

    def is_waiting_only_at(self, *activity_ids: str) -> InstanceAssert:
        """Tokens are at exactly these activities (in any order), and nowhere else."""
        expectation = f"to be waiting at exactly {sorted(activity_ids)}"
        self._need_state(expectation)
        if sorted(self.waiting_at) != sorted(activity_ids):
            raise self._fail(expectation, f"it is waiting at {sorted(self.waiting_at)}")
        return self

    def is_not_waiting_at(self, *activity_ids: str) -> InstanceAssert:
        expectation = f"not to be waiting at {list(activity_ids)}"
        self._need_state(expectation)
        found = [a for a in activity_ids if a in self.waiting_at]
        if found:
            raise self._fail(expectation, f"it is waiting at {found}")
        return self

    def has_passed(self, *element_ids: str) -> InstanceAssert:
        """Each element was entered and left at least once."""
        expectation = f"to have passed {list(element_ids)}"
        self._need_path(expectation)
        missing = [e for e in element_ids if e not in self.passed]
        if missing:
            raise self._fail(expectation, f"it has not passed {missing} (passed: {self.passed})")
        return self

    def has_passed_in_order(self, *element_ids: str) -> InstanceAssert:
        """The elements were entered in this order (others may come between)."""
        expectation = f"to have passed {list(element_ids)} in this order"
        path = iter(self._need_path(expectation))
        if not all(any(e == step for step in path) for e in element_ids):
            raise self._fail(expectation, f"its path is {self.snapshot.path}")
        return self.has_passed(*element_ids)

    def has_not_passed(self, *element_ids: str) -> InstanceAssert:
        """None of these elements was ever entered."""
        expectation = f"not to have passed {list(element_ids)}"
        path = self._need_path(expectation)
        entered = [e for e in element_ids if e in path]
        if entered:
            raise self._fail(expectation, f"it entered {entered}")
        return self

    def ended_at(self, *end_event_ids: str) -> InstanceAssert:
        """The instance ended, and it reached each of these (end) events."""
        expectation = f"to have ended at {list(end_event_ids)}"
        state = self._need_state(expectation)
        if state.status == "active":
            raise self._fail(expectation, f"it is still waiting at {self.waiting_at}")
        path = self._need_path(expectation)
        missing = [e for e in end_event_ids if e not in path]
        if missing or not end_event_ids:
            raise self._fail(expectation, f"it ended ({state.status}) without reaching {missing}")
        return self

    def has_business_key(self, business_key: str | None) -> InstanceAssert:
        expectation = f"to have business key {business_key!r}"
        state = self._need_state(expectation)
        if state.business_key != business_key:
            raise self._fail(expectation, f"it has {state.business_key!r}")
        return self

    def has_variables(self, *names: str, **values: Any) -> InstanceAssert:
        """Variables ``names`` exist; ``values`` exist with these (Python) values."""
        wanted = list(names) + [f"{k}={v!r}" for k, v in values.items()]
        expectation = f"to have variables {', '.join(wanted)}"
        self._need_state(expectation)
        actual = self.variables
        problems = [f"{name!r} is missing" for name in names if name not in actual]
        for name, value in values.items():
            got = actual.get(name, _MISSING)
            if got is _MISSING:
                problems.append(f"{name!r} is missing")
            elif not _same(got, value):
                problems.append(f"{name!r} is {got!r}")
        if problems:
            raise self._fail(expectation, "; ".join(problems))
        return self

    def has_no_variables(self, *names: str) -> InstanceAssert:
        """None of these variables exists (no names: the instance has no variables at all)."""
        expectation = f"to have no variables {list(names)}" if names else "to have no variables"
        self._need_state(expectation)
        actual = self.variables
        found = [n for n in (names or actual) if n in actual]
        if found:
            raise self._fail(expectation, f"it has {', '.join(found)}")
        return self

    def has_incident(
        self, message: Expected | None = None, *, activity: str | None = None
    ) -> InstanceAssert:
        """An open incident of this instance (with this message: equal to a str, found by a
        compiled pattern; at this activity)."""
        expectation = "to have " + _incident_wanted(message, activity, None, None)
        if not any(
            _incident_matches(i, message, activity, None, None) for i in self.snapshot.incidents
        ):
            actual = [describe_incident(i) for i in self.snapshot.incidents]
            raise self._fail(expectation, f"its incidents are {actual or 'none'}")
        return self

    def has_no_incidents(self) -> InstanceAssert:
        if self.snapshot.incidents:
            actual = [describe_incident(i) for i in self.snapshot.incidents]
            raise self._fail("to have no incidents", f"it has {actual}")
        return self

    def task(self, activity_id: str) -> TaskAssert:
        """The external task of this instance at ``activity_id``, to assert on."""
        found = [t for t in self.snapshot.tasks if t.activity_id == activity_id]
        if len(found) != 1:
            raise self._fail(
                f"to have one external task at {activity_id!r}", f"it has {len(found)}"
            )
        task = found[0]
        incident = next((i for i in self.snapshot.incidents if i.id == task.incident_id), None)
        return TaskAssert(task, incident, self.snapshot.now_ms)


def _same(actual: Any, expected: Any) -> bool:
    """Equal and of the same type, except that numbers compare across int and float (a Double
    2.0 equals 2); True is not 1."""
    if actual != expected:
        return False
    if type(actual) is type(expected):
        return True
    numbers = (int, float)
    return (
        isinstance(actual, numbers)
        and isinstance(expected, numbers)
        and not isinstance(actual, bool)
        and not isinstance(expected, bool)
    )


# ---------------------------------------------------------------------- tasks and topics
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
        return _stored(self.task) if self.now_ms is None else task_state(self.task, self.now_ms)

    @property
    def variables(self) -> dict[str, Any]:
        return _values(self.task.variables)

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
            wanted.append(f"message {_show(message)}")
        expectation = "to have failed" + (" with " + ", ".join(wanted) if wanted else "")
        if self.task.error_message is None:
            raise self._fail(expectation, "no failure was reported")
        if retries_left is not None and self.task.retries != retries_left:
            raise self._fail(expectation, f"it has {self.task.retries} retries left")
        if message is not None and not _matches(self.task.error_message, message):
            raise self._fail(expectation, f"its error message is {self.task.error_message!r}")
        return self

    def has_error_details(self, details: Expected) -> TaskAssert:
        if not _matches(self.task.error_details, details):
            raise self._fail(
                f"to have error details {_show(details)}", f"they are {self.task.error_details!r}"
            )
        return self

    def has_incident(self, message: Expected | None = None) -> TaskAssert:
        """Retries are exhausted and the task carries an open incident (with this message)."""
        expectation = "to have " + _incident_wanted(message, None, None, None)
        if self.incident is None:
            raise self._fail(expectation, f"it has none (it is {self.state})")
        if message is not None and not _matches(self.incident.incident_message, message):
            raise self._fail(expectation, f"its message is {self.incident.incident_message!r}")
        return self

    def has_variables(self, *names: str, **values: Any) -> TaskAssert:
        actual = self.variables
        problems = [f"{n!r} is missing" for n in names if n not in actual]
        for name, value in values.items():
            got = actual.get(name, _MISSING)
            if got is _MISSING:
                problems.append(f"{name!r} is missing")
            elif not _same(got, value):
                problems.append(f"{name!r} is {got!r}")
        if problems:
            wanted = list(names) + [f"{k}={v!r}" for k, v in values.items()]
            raise self._fail(f"to have variables {', '.join(wanted)}", "; ".join(problems))
        return self


_STORED: dict[TaskState, TaskStateName] = {
    TaskState.AVAILABLE: "available",
    TaskState.LOCKED: "locked",
    TaskState.RETRY: "retrying",
    TaskState.INCIDENT: "incident",
}


def _stored(task: ExternalTask) -> TaskStateName:
    return _STORED[task.state]


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
        if not any(_incident_matches(i, message, activity, iid, topic) for i in self.incidents):
            raise AssertionError(
                f"Expecting {_incident_wanted(message, activity, iid, topic)}, but none "
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
