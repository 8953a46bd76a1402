"""Failures reported by workers (``POST /external-task/{id}/failure``): retry or incident
bookkeeping in ``handle_failure.lua``, unless the task's activity has
``camunda:errorEventDefinition`` expressions and one of them is true (Camunda's
HandleExternalTaskFailureCmd evaluates them first): then the failure throws that BPMN error
through the engine instead, like ``/bpmnError``.

The script hands over (E_PROCESS, a returned value here) the process tasks the engine must see
first: those marked when they were created (hash field ``eed``), and any process task whose
failure carries variables, since Camunda sets them on the task's execution, which lives in the
instance state. Then the engine evaluates the expressions, as a command of the executor; when
none holds, the script is called again and writes the instance state with the variables set in
the same call as the bookkeeping. So a failure is all or nothing: a crash between the two calls
leaves no trace (the first one only refused), and a retry of the whole request starts over.
Standalone tasks and the other process tasks cost one script call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from redtask.broker import engine, validate, variables
from redtask.broker.errors import InvalidArgument
from redtask.broker.executor import Executor, Found, Write
from redtask.broker.keys import Keys
from redtask.broker.model import ExternalTask, TaskState
from redtask.broker.redis_layer import RedisLayer
from redtask.broker.settings import Settings
from redtask.broker.store_base import Clock, new_task_id
from redtask.broker.task_outcomes import HandOff, TaskSource, lock_token_arg, outcome_of

MAX_ERROR_MESSAGE = 666  # Camunda truncates errorMessage to this many characters
TRUNCATED = "\n[... truncated by redtask: {} bytes in all]"
NO_INSTANCE = ("", "", "")  # handle_failure.lua ARGV[13..15]: no instance state to write


def capped_details(details: str | None, limit: int) -> str | None:
    """``details`` cut to at most ``limit`` UTF-8 bytes, ending with a marker that gives the
    original size (Camunda stores errorDetails whole, as a byte array without a cap)."""
    if details is None or len(details) * 4 <= limit:
        return details
    raw = details.encode("utf-8", "surrogatepass")
    if len(raw) <= limit:
        return details
    marker = TRUNCATED.format(len(raw))
    keep = raw[: max(0, limit - len(marker.encode()))]
    return keep.decode("utf-8", "ignore") + marker


class Failures:
    def __init__(
        self,
        db: RedisLayer,
        keys: Keys,
        settings: Settings,
        clock: Clock,
        tasks: TaskSource,
        executor: Executor,
    ) -> None:
        self.db = db
        self.keys = keys
        self.settings = settings
        self.clock = clock
        self.tasks = tasks
        self.executor = executor

    async def handle_failure(
        self,
        task_id: str,
        worker_id: str,
        error_message: str | None,
        error_details: str | None,
        retries: int,
        retry_timeout: int,
        *,
        variables: Mapping[str, Any] | None = None,
        local_variables: Mapping[str, Any] | None = None,
        lock_token: int | None = None,
    ) -> TaskState | None:
        """Report a failure; returns the task's new state (AVAILABLE, RETRY or INCIDENT), or
        None when an error event definition matched and threw its BPMN error (the task is gone).

        ``variables`` and ``local_variables`` are set on the task's execution, so the next
        fetch sees them. A standalone task is its own execution; a process task's are written
        to its instance, as on completion (``variables`` to the nearest scope that has the
        name, else the process instance; ``local_variables`` to the task's own execution),
        together with the retry or incident bookkeeping. The expressions of error event
        definitions see them. Raises TaskNotFound, WorkerMismatch, StaleLock, InvalidArgument
        (negative retries or timeout), InvalidVariable.
        """
        fields = validate.variable_fields(
            variables, local_variables, max_bytes=self.settings.max_variables_bytes
        )
        worker_id = validate.worker_id(worker_id)
        if validate.integer("retries", retries) < 0:
            raise InvalidArgument("retries is not greater than or equal to 0")
        if validate.integer("retryTimeout", retry_timeout) < 0:
            raise InvalidArgument("retryDuration is not greater than or equal to 0")
        validate.within_dates("retryTimeout", retry_timeout, self.clock())
        message = (error_message or "")[:MAX_ERROR_MESSAGE]
        error_details = capped_details(error_details, self.settings.max_error_details_bytes)
        args: list[Any] = [task_id, worker_id, lock_token_arg(lock_token), message]
        args += ["0" if error_details is None else "1", error_details or "", retries]
        args += [retry_timeout, self.keys.wake_channel, new_task_id()]
        errors: dict[str, Any] = {
            "task_id": task_id,
            "worker_id": worker_id,
            "token": lock_token or 0,
            "operation": "failure",
        }
        now = self.clock()
        prefix = self.keys.prefix(self.keys.partition_of(task_id))
        reply = await self.db.call("handle_failure", prefix, now, *args, "1", *NO_INSTANCE, *fields)
        if isinstance(outcome_of(reply, **errors, now_ms=now), HandOff):
            task = await self.tasks.get(task_id)
            seen = {
                "id": task.id,
                "topicName": task.topic_name,
                "workerId": task.worker_id,
                "retries": task.retries,  # not changed yet, as in Camunda
                "errorMessage": message or None,
                "errorDetails": task.error_details if error_details is None else error_details,
            }
            return await self._fail_process_task(
                task, args, seen, variables, local_variables, errors
            )
        return TaskState(reply[1])

    async def _fail_process_task(
        self,
        task: ExternalTask,
        args: list[Any],
        seen: Mapping[str, Any],
        raw_variables: Mapping[str, Any] | None,
        raw_local_variables: Mapping[str, Any] | None,
        errors: Mapping[str, Any],
    ) -> TaskState | None:
        """The engine's part of a process task's failure (``seen`` is what ``externalTask``
        shows in the expressions, ``args`` the script's ARGV[2..11]). The first true error event
        definition throws its BPMN error (committed by ``advance``, returns None); otherwise the
        script does the bookkeeping and writes the state with the failure's variables set, both
        guarded by the instance version read (recomputed when another step won)."""
        typed = variables.normalize(raw_variables)
        local = variables.normalize(raw_local_variables)
        instance_id = task.process_instance_id or ""
        prefix = self.keys.prefix(self.keys.partition_of(task.id))

        async def command(found: Found) -> Write[TaskState | None]:
            model = await found.model()
            now = self.clock()
            step = engine.fail_task(
                model,
                found.state,
                task.id,
                typed,
                local,
                now,
                found.ids,
                external_task=seen,
                max_bytes=self.settings.max_variables_bytes,
            )
            if step is not None:
                new_state, effects, code = step
                message = seen["errorMessage"]
                trigger = {
                    "task": task.id,
                    "worker": errors["worker_id"],
                    "outcome": "bpmn_error",
                    "token": args[2],
                    "log": ["code", code] + (["msg", message] if message else []),
                }
                write = found.commit(new_state, effects, trigger)
                return Write(write.send, lambda _: None, {**errors, "now_ms": now})
            # one script for the variables and the bookkeeping: a crash leaves neither
            instance: tuple[Any, ...] = NO_INSTANCE
            if typed or local:
                changed = engine.set_task_variables(model, found.state, task.id, typed, local)
                instance = (instance_id, found.version, orjson.dumps(changed.to_json()))

            async def send() -> list[Any]:
                return await self.db.call("handle_failure", prefix, now, *args, "0", *instance)

            return Write(send, lambda reply: TaskState(reply[1]), {**errors, "now_ms": now})

        return await self.executor.execute(instance_id, command, "failure not handled")
