"""What the assertions of the test kit share: a task's state as a worker sees it, matching an
expected message (a str whole, a compiled pattern by search), comparing variables, and the
one-line descriptions of tasks and incidents a failing check prints."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from redtask.broker.model import ExternalTask, Incident, TaskState
from redtask.worker.values import from_typed_map

TaskStateName = Literal["available", "locked", "retrying", "incident"]
TASK_STATES: tuple[TaskStateName, ...] = ("available", "locked", "retrying", "incident")
Expected = str | re.Pattern[str]
_MISSING = object()


def matches(actual: str | None, expected: Expected) -> bool:
    """Equal to a str; for a compiled pattern, ``pattern.search`` finds it."""
    if actual is None:
        return False
    if isinstance(expected, re.Pattern):
        return expected.search(actual) is not None
    return actual == expected


def show(expected: Expected) -> str:
    return f"matching /{expected.pattern}/" if isinstance(expected, re.Pattern) else repr(expected)


def _time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def python_values(typed: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return from_typed_map(typed)
    except Exception:  # a value the SDK cannot read (e.g. a malformed Json): show it raw
        return {name: value.get("value") for name, value in typed.items()}


def variables_line(values: Mapping[str, Any]) -> str:
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
    state = stored_state(task) if now_ms is None else task_state(task, now_ms)
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


def incident_matches(
    incident: Incident,
    message: Expected | None,
    activity: str | None,
    instance: str | None,
    topic: str | None,
) -> bool:
    return (
        (message is None or matches(incident.incident_message, message))
        and (activity is None or incident.activity_id == activity)
        and (instance is None or incident.process_instance_id == instance)
        and (topic is None or incident.topic_name == topic)
    )


def incident_wanted(
    message: Expected | None, activity: str | None, instance: str | None, topic: str | None
) -> str:
    wanted = []
    if message is not None:
        wanted.append(f"message {show(message)}")
    if activity is not None:
        wanted.append(f"at {activity!r}")
    if instance is not None:
        wanted.append(f"of process instance {instance}")
    if topic is not None:
        wanted.append(f"on topic {topic!r}")
    return "an incident" + (" with " + ", ".join(wanted) if wanted else "")


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


def variable_problems(
    actual: Mapping[str, Any], names: Iterable[str], values: Mapping[str, Any]
) -> list[str]:
    """What is wrong with ``actual`` (Python values) for a ``has_variables(*names, **values)``
    check: each name missing, each value missing or different (see :func:`_same`)."""
    problems = [f"{name!r} is missing" for name in names if name not in actual]
    for name, value in values.items():
        got = actual.get(name, _MISSING)
        if got is _MISSING:
            problems.append(f"{name!r} is missing")
        elif not _same(got, value):
            problems.append(f"{name!r} is {got!r}")
    return problems


_STORED: dict[TaskState, TaskStateName] = {
    TaskState.AVAILABLE: "available",
    TaskState.LOCKED: "locked",
    TaskState.RETRY: "retrying",
    TaskState.INCIDENT: "incident",
}


def stored_state(task: ExternalTask) -> TaskStateName:
    return _STORED[task.state]
