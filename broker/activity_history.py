"""What ``advance`` records of a step for the history: the activity instances it started and
ended (``ha:<instance>``) and the external-task log entries of the tasks it created, finished
or deleted (``hx:<instance>``); and how those records read back.

An activity instance is one hash field, ``<activity instance id>`` -> JSON
``[activityId, activityType, parentActivityInstanceId ("" for the process instance),
executionId, taskId, startMs, version, seq]`` (``version`` and ``seq``: the instance version
the step wrote and the place in that step, which orders activities that started in the same
millisecond), followed by ``endMs,
canceled, completeScope`` (0/1) when it ended in the step it started in; one that ends in a
later step gets a second field ``<id>|e`` -> ``[endMs, canceled, completeScope]``. The same
hash keeps when each variable was created (``|v|<scope>|<name>`` -> ms). Writing
the end beside the start keeps the script free of JSON decoding: a step's records are built
here and written with one HSET.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from redtask.broker.engine import Effects, InstanceState

END_SUFFIX = "|e"
DETAILS_SUFFIX = "|d"
CREATED_PREFIX = "|v|"  # activity ids are XML names, so no activity instance id starts with "|"


def created_field(scope_id: str, name: str) -> str:
    """The ``ha:`` field holding when a variable of a scope (the instance or an execution id)
    was created: ``|v|<scope>|<name>``."""
    return f"{CREATED_PREFIX}{scope_id}|{name}"


def _variables_created(state: InstanceState, before: InstanceState | None) -> list[str]:
    """The ``created_field`` of each variable ``state`` has that ``before`` had not."""
    old = {} if before is None else {e.id: e.variables for e in before.executions}
    old_process = {} if before is None else before.variables
    fields = [created_field(state.instance_id, n) for n in state.variables if n not in old_process]
    for execution in state.executions:
        previous = old.get(execution.id, {})
        fields += [created_field(execution.id, n) for n in execution.variables if n not in previous]
    return fields


def history_arg(
    effects: Effects,
    now: int,
    version: int,
    has_trigger: bool,
    state: InstanceState,
    before: InstanceState | None,
) -> dict[str, Any]:
    """``advance``'s history argument of an instance's block (see the script's header): also
    when each variable that is new in ``state`` was created."""
    records: dict[str, list[Any]] = {}
    ends: dict[str, list[Any]] = {}
    for seq, event in enumerate(effects.activities):
        if event.started:
            ai = event.id or f"{event.activity_id}:{uuid.uuid4()}"
            records[ai] = [
                event.activity_id,
                event.activity_type,
                "" if event.parent_id == state.instance_id else event.parent_id,
                event.execution_id,
                event.task_id,
                now,
                version,
                seq,
            ]
            if event.ended:
                records[ai] += [now, int(event.canceled), int(event.complete_scope)]
        elif event.id in records and len(records[event.id]) == 8:
            records[event.id] += [now, int(event.canceled), int(event.complete_scope)]
        elif event.id is not None:
            ends[event.id] = [now, int(event.canceled), int(event.complete_scope)]
    pairs: list[str] = []
    for ai, record in records.items():
        pairs += [ai, orjson.dumps(record).decode()]
    for ai, end in ends.items():
        pairs += [ai + END_SUFFIX, orjson.dumps(end).decode()]
    for field in _variables_created(state, before):
        pairs += [field, str(now)]
    logs: list[str] = []
    for t in effects.tasks_created:
        entry = {
            "ts": now,
            "task": t.id,
            "t": t.topic,
            "p": str(t.priority),
            "w": None,
            "r": None,
            "em": None,
            "act": t.activity_id,
            "ai": t.activity_instance_id,
            "ex": t.execution_id,
            "k": "c",
        }
        logs += [str(uuid.uuid4()), orjson.dumps(entry).decode()]
    out: dict[str, Any] = {"a": pairs, "x": logs}
    if effects.tasks_deleted:
        out["d"] = {task_id: str(uuid.uuid4()) for task_id in effects.tasks_deleted}
    if has_trigger:
        out["s"] = str(uuid.uuid4())
    if effects.end_activity_id is not None:
        out["ea"] = effects.end_activity_id
    return out


@dataclass(frozen=True, slots=True)
class ActivityRecord:
    """One historic activity instance as stored (times in epoch ms; ``end`` None while it
    runs); the instance's own fields come from its historic instance."""

    id: str
    process_instance_id: str
    activity_id: str
    activity_type: str
    parent_id: str
    execution_id: str
    task_id: str | None
    start: int
    version: int
    seq: int
    end: int | None
    canceled: bool
    complete_scope: bool

    @property
    def duration(self) -> int | None:
        return None if self.end is None else self.end - self.start

    @property
    def occurrence(self) -> tuple[int, int, int]:
        return (self.start, self.version, self.seq)


def activity_records(instance_id: str, fields: Mapping[str, str]) -> list[ActivityRecord]:
    """The activity instances of one instance from its ``ha:`` hash, in order of occurrence."""
    found = []
    for field, raw in fields.items():
        if field.endswith(END_SUFFIX) or field.startswith(CREATED_PREFIX):
            continue
        r = orjson.loads(raw)
        end_raw = fields.get(field + END_SUFFIX)
        end = r[8:11] if len(r) > 8 else (orjson.loads(end_raw) if end_raw else None)
        found.append(
            ActivityRecord(
                id=field,
                process_instance_id=instance_id,
                activity_id=r[0],
                activity_type=r[1],
                parent_id=r[2] or instance_id,
                execution_id=r[3],
                task_id=r[4],
                start=int(r[5]),
                version=int(r[6]),
                seq=int(r[7]),
                end=None if end is None else int(end[0]),
                canceled=bool(end and end[1]),
                complete_scope=bool(end and end[2]),
            )
        )
    found.sort(key=lambda a: a.occurrence)
    return found


@dataclass(frozen=True, slots=True)
class TaskLogEntry:
    """One entry of the external-task log; ``kind``: c created, f failed, s succeeded,
    d deleted. ``priority`` is a decimal string (64-bit)."""

    id: str
    process_instance_id: str
    timestamp: int
    task_id: str
    topic: str
    priority: int
    worker_id: str | None
    retries: int | None
    error_message: str | None
    activity_id: str | None
    activity_instance_id: str | None
    execution_id: str | None
    kind: str


def task_log_entries(instance_id: str, fields: Mapping[str, str]) -> list[TaskLogEntry]:
    """The log entries of one instance from its ``hx:`` hash (error details left out)."""
    found = []
    for field, raw in fields.items():
        if field.endswith(DETAILS_SUFFIX):
            continue
        e = orjson.loads(raw)
        retries = e.get("r")
        found.append(
            TaskLogEntry(
                id=field,
                process_instance_id=instance_id,
                timestamp=int(e["ts"]),
                task_id=e["task"],
                topic=e["t"],
                priority=int(e.get("p") or 0),
                worker_id=e.get("w"),
                retries=None if retries is None else int(retries),
                error_message=e.get("em") or None,
                activity_id=e.get("act"),
                activity_instance_id=e.get("ai"),
                execution_id=e.get("ex"),
                kind=e["k"],
            )
        )
    return found
