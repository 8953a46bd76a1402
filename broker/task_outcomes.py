"""Completions and BPMN errors reported by workers (``complete.lua``, ``handle_bpmn_error.lua``).

A standalone task is finished by its script alone. A task of a process instance is refused by
the script untouched (status E_PROCESS): that refusal comes back from ``outcome_of`` as a
``HandOff`` value, and the process runtime then finishes the task and steps its instance in
one ``advance`` (Camunda's CompleteExternalTaskCmd / HandleExternalTaskBpmnErrorCmd).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redtask.broker import validate
from redtask.broker.errors import E_PROCESS, OK, InvalidArgument, raise_for
from redtask.broker.instances import ProcessRuntime
from redtask.broker.keys import Keys
from redtask.broker.model import ExternalTask
from redtask.broker.redis_layer import RedisLayer, ScriptCall
from redtask.broker.settings import Settings
from redtask.broker.store_base import Clock


@dataclass(frozen=True, slots=True)
class Completion:
    """One item of ``complete_many``."""

    task_id: str
    worker_id: str
    variables: Mapping[str, Any] | None = None
    local_variables: Mapping[str, Any] | None = None
    lock_token: int | None = None


@dataclass(frozen=True, slots=True)
class HandOff:
    """A script's answer that the task belongs to a process instance: the runtime takes it."""

    task_id: str


class TaskSource(Protocol):
    async def get(self, task_id: str) -> ExternalTask: ...


def outcome_of(
    reply: Sequence[Any],
    *,
    task_id: str = "",
    worker_id: str = "",
    token: int = 0,
    now_ms: int = 0,
    operation: str = "",
) -> HandOff | None:
    """None when the script did the work, a HandOff for a process task; raises the error the
    reply reports (as ``raise_for``, whose keyword arguments these are)."""
    code = int(reply[0])
    if code == OK:
        return None
    if code == E_PROCESS:
        return HandOff(task_id)
    raise_for(
        reply,
        task_id=task_id,
        worker_id=worker_id,
        token=token,
        now_ms=now_ms,
        operation=operation,
    )
    return None


def lock_token_arg(lock_token: int | None) -> str:
    """A lock token as scripts take it ('' = check the worker id only)."""
    return "" if lock_token is None else str(lock_token)


class TaskOutcomes:
    def __init__(
        self,
        db: RedisLayer,
        keys: Keys,
        settings: Settings,
        clock: Clock,
        tasks: TaskSource,
        runtime: ProcessRuntime,
    ) -> None:
        self.db = db
        self.keys = keys
        self.settings = settings
        self.clock = clock
        self.tasks = tasks
        self.runtime = runtime

    def _variables_json(self, raw: Mapping[str, Any] | None) -> str:
        return validate.variables_json(raw, self.settings.max_variables_bytes)

    def _completion_slots(self, c: Completion) -> list[str]:
        """The five ARGV slots of one task in complete.lua; raises for bad input."""
        # variables are checked before the worker id, in Camunda's order
        variables = self._variables_json(c.variables)
        local_variables = self._variables_json(c.local_variables)
        worker_id = validate.worker_id(c.worker_id)
        return [c.task_id, worker_id, lock_token_arg(c.lock_token), variables, local_variables]

    def _complete_call(self, partition: int, items: list[list[str]]) -> ScriptCall:
        """complete.lua's arguments: five per task, the variable texts after them."""
        texts: list[str] = []
        flat: list[str | int] = []
        first_text = 4 + 5 * len(items)  # ARGV index: now, maxlen, n, items..., texts...
        for task_id, worker_id, token, variables, local_variables in items:
            flat += [task_id, worker_id, token]
            for text in (variables, local_variables):
                if text:
                    flat.append(first_text + len(texts))
                    texts.append(text)
                else:
                    flat.append(0)
        args = [self.clock(), self.settings.finished_log_length, len(items), *flat, *texts]
        return "complete", self.keys.prefix(partition), args

    async def complete_many(
        self, items: Sequence[Completion], *, strict: bool = False
    ) -> list[Exception | None]:
        """Complete several tasks in one round trip: one script call per partition.

        Returns one result per item, None or the error it met (each item stands alone). With
        ``strict`` an invalid item raises before anything is sent.
        """
        results: list[Exception | None] = [None] * len(items)
        groups: dict[int, list[int]] = {}
        slots: dict[int, list[str]] = {}
        for i, c in enumerate(items):
            try:
                slots[i] = self._completion_slots(c)
            except InvalidArgument as exc:
                if strict:
                    raise
                results[i] = exc
                continue
            groups.setdefault(self.keys.partition_of(c.task_id), []).append(i)
        calls = [
            self._complete_call(p, [slots[i] for i in members]) for p, members in groups.items()
        ]
        for members, reply in zip(groups.values(), await self.db.call_many(calls), strict=True):
            for n, i in enumerate(members):
                c = items[i]
                try:
                    if isinstance(reply, Exception):
                        raise reply
                    handed = outcome_of(
                        reply[2 * n : 2 * n + 2],
                        task_id=c.task_id,
                        worker_id=c.worker_id,
                        token=c.lock_token or 0,
                        operation="complete",
                    )
                    if handed is not None:
                        task = await self.tasks.get(c.task_id)
                        await self.runtime.complete_task(
                            task, c.worker_id, c.variables, c.local_variables, c.lock_token
                        )
                except Exception as exc:  # returned, not raised: one item must not hide others
                    results[i] = exc
        return results

    async def complete(
        self,
        task_id: str,
        worker_id: str,
        variables: Mapping[str, Any] | None = None,
        local_variables: Mapping[str, Any] | None = None,
        *,
        lock_token: int | None = None,
    ) -> None:
        """Complete a task. Raises TaskNotFound, WorkerMismatch, StaleLock, InvalidVariable."""
        [result] = await self.complete_many(
            [Completion(task_id, worker_id, variables, local_variables, lock_token)], strict=True
        )
        if result is not None:
            raise result

    async def handle_bpmn_error(
        self,
        task_id: str,
        worker_id: str,
        error_code: str,
        error_message: str | None = None,
        variables: Mapping[str, Any] | None = None,
        *,
        lock_token: int | None = None,
    ) -> None:
        """Report a BPMN error. Raises InvalidArgument (no code), TaskNotFound, WorkerMismatch."""
        variables_json = self._variables_json(variables)  # converted first, in Camunda's order
        worker_id = validate.worker_id(worker_id)
        if not isinstance(error_code, str) or not error_code:
            raise InvalidArgument("errorCode is null")
        reply = await self.db.call(
            "handle_bpmn_error",
            self.keys.prefix(self.keys.partition_of(task_id)),
            self.clock(),
            task_id,
            worker_id,
            lock_token_arg(lock_token),
            error_code,
            error_message or "",
            variables_json,
            self.settings.finished_log_length,
        )
        handed = outcome_of(
            reply,
            task_id=task_id,
            worker_id=worker_id,
            token=lock_token or 0,
            operation="bpmnError",
        )
        if handed is not None:
            task = await self.tasks.get(task_id)
            await self.runtime.bpmn_error(
                task, worker_id, error_code, error_message, variables, lock_token
            )
