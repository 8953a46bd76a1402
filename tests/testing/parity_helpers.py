"""Helpers of the parity tests (tests/testing/test_parity_*.py): random ids named in order of
appearance, times relative to the clock's start, and the records of tasks, fetches, refusals
and process instances those tests compare."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redtask.broker.model import ExternalTask
from redtask.testing import TestBroker

START = 1_700_000_000_000
MakeKit = Callable[..., TestBroker]


class Names:
    """Random ids as ``task1``, ``instance1``, ... in the order they are first seen."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def __call__(self, value: str | None, kind: str = "id") -> str | None:
        if value is None:
            return None
        if value not in self.names:
            count = sum(1 for n in self.names.values() if n.startswith(kind))
            self.names[value] = f"{kind}{count + 1}"
        return self.names[value]

    def text(self, text: str) -> str:
        for value, name in self.names.items():
            text = text.replace(value, name)
        return text


def rel(ms: int | None) -> int | None:
    return None if ms is None else ms - START


def task_record(task: ExternalTask, names: Names) -> dict[str, Any]:
    return {
        "id": names(task.id, "task"),
        "topic": task.topic_name,
        "state": task.state.value,
        "priority": task.priority,
        "retries": task.retries,
        "worker": task.worker_id,
        "until": rel(task.lock_expiration_time),
        "token": task.lock_token,
        "error": task.error_message,
        "details": task.error_details,
        "business_key": task.business_key,
        "tenant": task.tenant_id,
        "variables": {k: (v["type"], v["value"]) for k, v in task.variables.items()},
        "incident": names(task.incident_id, "incident"),
        "created": rel(task.create_time),
    }


def fetched(tasks: list[ExternalTask], names: Names) -> list[tuple[Any, ...]]:
    return [
        (
            names(t.id, "task"),
            t.lock_token,
            rel(t.lock_expiration_time),
            {k: v["value"] for k, v in t.variables.items()},
        )
        for t in tasks
    ]


async def refused(names: Names, call: Any) -> tuple[str, str]:
    """The exception an awaitable raises: its type and message, ids named."""
    try:
        await call
    except Exception as exc:
        return type(exc).__name__, names.text(str(exc))
    raise AssertionError("expected a refusal")


def instance_record(snapshot: Any) -> dict[str, Any]:
    return {
        "status": snapshot.status,
        "waiting_at": snapshot.waiting_at,
        "path": snapshot.path,
        "variables": snapshot.variables,
    }
