"""The broker's exception tree. Scripts return status codes; ``raise_for`` maps each to one type.

The codes are declared once, in ``scripts/_status.lua``, and read from there. Two codes are
answers rather than errors, and their callers look at them before ``raise_for``: E_PROCESS (a
task of a process instance, handed to the process runtime) and E_CONFLICT (the instance moved
on; the executor recomputes the step). The gateway turns these exceptions into Camunda's
``{type, message, code}`` bodies; nothing else does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redtask.broker import scripts


class BrokerError(Exception):
    """Base class of every error the broker raises on purpose.

    Subclasses take their own constructor arguments; pickling (an error crossing a process
    boundary, as in a process pool) restores the message and attributes without calling
    ``__init__`` again."""

    def __reduce__(self) -> tuple[Any, ...]:
        return _restore, (type(self), self.args, self.__dict__)


def _restore(kind: type[BrokerError], args: tuple[Any, ...], state: dict[str, Any]) -> BrokerError:
    error = kind.__new__(kind)
    error.args = args
    error.__dict__.update(state)
    return error


class InvalidArgument(BrokerError, ValueError):
    """The caller passed a value the broker refuses (bad topic, negative retries, ...)."""


class InvalidVariable(InvalidArgument):
    """A typed variable could not be converted; ``kind`` tells Camunda's error type."""

    def __init__(self, message: str, *, kind: str = "InvalidRequestException") -> None:
        super().__init__(message)
        self.kind = kind


class TaskNotFound(BrokerError):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"External task with id {task_id} does not exist")
        self.task_id = task_id


class WorkerMismatch(BrokerError):
    """The task is locked by another worker, or by nobody (``current_worker`` is None).

    ``operation`` names the refused operation as Camunda's REST resource does ("complete",
    "failure", "bpmnError", "extendLock", "lock"): Camunda words the message per operation."""

    def __init__(
        self, task_id: str, worker_id: str, current_worker: str | None, operation: str
    ) -> None:
        super().__init__(
            f"External Task {task_id} is locked by worker '{current_worker}', not '{worker_id}'."
        )
        self.task_id = task_id
        self.worker_id = worker_id
        self.current_worker = current_worker
        self.operation = operation


class LockExpired(BrokerError):
    def __init__(self, task_id: str, now_ms: int) -> None:
        super().__init__(
            "Cannot extend a lock that expired: lockExpirationTime is not greater than or "
            f"equal to {now_ms}"
        )
        self.task_id = task_id
        self.now_ms = now_ms


class StaleLock(BrokerError):
    """The caller's lock token is older than the task's: another lock was taken since."""

    def __init__(self, task_id: str, token: int, current_token: int) -> None:
        super().__init__(
            f"External task {task_id}: lock token {token} is stale (current {current_token})"
        )
        self.task_id = task_id
        self.token = token
        self.current_token = current_token


class DuplicateTask(BrokerError):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"External task with id {task_id} already exists")
        self.task_id = task_id


class ConfigurationError(BrokerError):
    """The Redis server or the settings cannot be used safely (eviction policy, partitions)."""


class JobNotFound(BrokerError):
    """No job with this id: in redtask the jobs are the timers whose step failed."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"No job found with id '{job_id}'")
        self.job_id = job_id


class InstanceNotFound(BrokerError):
    def __init__(self, instance_id: str) -> None:
        super().__init__(f"Process instance with id {instance_id} does not exist")
        self.instance_id = instance_id


class MessageNotCorrelated(BrokerError):
    """Camunda's MismatchingMessageCorrelationException, with its message: no execution (nor
    message start event) matches, or ``matches`` executions (``definitions``: process
    definitions) do where one was asked for (``correlation_set`` as Java prints it)."""

    def __init__(
        self,
        message_name: str,
        matches: int,
        correlation_set: str = "",
        *,
        definitions: bool = False,
    ) -> None:
        if matches and definitions:  # several processes start on it (several tenants)
            message = (
                f"ENGINE-13030 Cannot correlate a message with name '{message_name}' to a "
                f"single process definition. {matches} process definitions match the "
                f"correlations keys: {correlation_set}"
            )
        elif matches == 0:
            message = (
                f"Cannot correlate message '{message_name}': No process definition or execution "
                "matches the parameters"
            )
        else:
            message = (
                f"ENGINE-13031 Cannot correlate a message with name '{message_name}' to a single "
                f"execution. {matches} executions match the correlation keys: {correlation_set}"
            )
        super().__init__(message)
        self.message_name = message_name
        self.matches = matches


CODES = scripts.status_codes()
OK = CODES["OK"]
E_NOT_FOUND = CODES["E_NOT_FOUND"]
E_WORKER_MISMATCH = CODES["E_WORKER_MISMATCH"]
E_LOCK_EXPIRED = CODES["E_LOCK_EXPIRED"]
E_STALE_TOKEN = CODES["E_STALE_TOKEN"]
E_INVALID = CODES["E_INVALID"]
E_DUPLICATE = CODES["E_DUPLICATE"]
E_PROCESS = CODES["E_PROCESS"]
E_CONFLICT = CODES["E_CONFLICT"]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def raise_for(
    reply: Sequence[Any],
    *,
    task_id: str = "",
    worker_id: str = "",
    token: int = 0,
    now_ms: int = 0,
    operation: str = "",
) -> None:
    """Raise the exception for a script's status reply; return if it is OK. E_PROCESS and
    E_CONFLICT are not errors: a caller that can meet them handles them first."""
    code = int(reply[0])
    if code == OK:
        return
    extra = _text(reply[1]) if len(reply) > 1 else None
    if code == E_NOT_FOUND:
        raise TaskNotFound(extra or task_id)
    if code == E_WORKER_MISMATCH:
        raise WorkerMismatch(task_id, worker_id, extra, operation)
    if code == E_LOCK_EXPIRED:
        raise LockExpired(task_id, now_ms)
    if code == E_STALE_TOKEN:
        raise StaleLock(task_id, token, int(extra or 0))
    if code == E_INVALID:
        raise InvalidArgument(extra or "invalid argument")
    if code == E_DUPLICATE:
        raise DuplicateTask(extra or task_id)
    raise BrokerError(f"unexpected script status {code}")
