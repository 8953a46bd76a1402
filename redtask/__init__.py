"""redtask: a Redis-backed external-task broker that speaks Camunda 7's REST dialect.

The worker SDK's names import from here::

    from redtask import BpmnError, Worker

    worker = Worker()

    @worker.task("charge-card")
    def charge(amount: float, card: str) -> dict[str, object]: ...

``redtask.open_store`` opens the broker's store (``redtask.broker.open_store``); it is imported
on first use, so a worker that only speaks REST never loads the broker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redtask.worker import (
    Backoff,
    BpmnError,
    Complete,
    ExternalTask,
    RetryPolicy,
    Router,
    TaskFailure,
    Typed,
    Worker,
)

if TYPE_CHECKING:
    from redtask.broker import open_store

__all__ = [
    "Backoff",
    "BpmnError",
    "Complete",
    "ExternalTask",
    "RetryPolicy",
    "Router",
    "TaskFailure",
    "Typed",
    "Worker",
    "open_store",
]


def __getattr__(name: str) -> Any:
    if name == "open_store":
        from redtask.broker import open_store

        return open_store
    raise AttributeError(f"module 'redtask' has no attribute {name!r}")
