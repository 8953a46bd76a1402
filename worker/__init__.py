"""The redtask worker SDK: register handlers on a :class:`Worker` (or a :class:`Router`), run
it with ``redtask worker module:worker``.

    worker = Worker()

    @worker.task("charge-card", lock_duration=60_000)
    def charge(amount: float, card: str) -> dict:
        return {"receipt": payments.charge(card, amount)}
"""

from redtask.worker.backoff import Backoff, RetryPolicy
from redtask.worker.router import Router
from redtask.worker.runtime import Worker
from redtask.worker.task import BpmnError, Complete, ExternalTask, TaskFailure
from redtask.worker.values import Typed

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
]
