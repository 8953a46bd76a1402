"""Failures reported by workers (``POST /external-task/{id}/failure``): retry or incident
bookkeeping in ``handle_failure.lua``, unless the task's activity has
``camunda:errorEventDefinition`` expressions and one of them is true (§2.4 step 7): then the
failure throws that BPMN error through the engine instead, like ``/bpmnError``.

Only tasks marked when they were created (hash field ``eed``) take the engine path: the script
refuses them, the engine evaluates the expressions, and when none holds the script is called
again to do the bookkeeping. Standalone tasks and other process tasks cost one script call.

``StoreFailures`` is mixed into ``broker.store.Store`` (it is part of the store layer).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from broker import engine, validate, variables
from broker.bpmn import ProcessModel
from broker.errors import BrokerError, InvalidArgument, ProcessTask, raise_for
from broker.instances import E_CONFLICT, MAX_ATTEMPTS, StoreInstances
from broker.model import ExternalTask, TaskState
from broker.reads import StoreReads

MAX_ERROR_MESSAGE = 666  # Camunda truncates errorMessage to this many characters


class StoreFailures(StoreInstances, StoreReads):
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

        ``variables`` and ``local_variables`` are set on the task (a standalone task is its own
        execution), so the next fetch sees them; the expressions of error event definitions see
        them as variables of the task's execution. Raises TaskNotFound, WorkerMismatch,
        StaleLock, InvalidArgument (negative retries or timeout), InvalidVariable.
        """
        fields = validate.variable_fields(variables, local_variables, max_bytes=self._max_vars)
        worker_id = validate.worker_id(worker_id)
        if validate.integer("retries", retries) < 0:
            raise InvalidArgument("retries is not greater than or equal to 0")
        if validate.integer("retryTimeout", retry_timeout) < 0:
            raise InvalidArgument("retryDuration is not greater than or equal to 0")
        message = (error_message or "")[:MAX_ERROR_MESSAGE]
        args: list[Any] = [task_id, worker_id, _token(lock_token), message]
        args += ["0" if error_details is None else "1", error_details or "", retries]
        args += [retry_timeout, self._wake(), self.new_task_id()]
        errors: dict[str, Any] = {"task_id": task_id, "worker_id": worker_id, "token": lock_token}
        now = self.clock()
        reply = await self._call(
            "handle_failure", self._prefix_of(task_id), now, *args, "1", *fields
        )
        try:
            raise_for(reply, **errors, now_ms=now)
        except ProcessTask:
            task = await self.get(task_id)
            seen = {
                "id": task.id,
                "topicName": task.topic_name,
                "workerId": task.worker_id,
                "retries": task.retries,  # not changed yet, as in Camunda
                "errorMessage": message or None,
                "errorDetails": task.error_details if error_details is None else error_details,
            }
            thrown = await self._throw_on_failure(
                task, worker_id, seen, variables, local_variables, lock_token
            )
            if thrown:
                return None
            now = self.clock()
            reply = await self._call(
                "handle_failure", self._prefix_of(task_id), now, *args, "0", *fields
            )
            raise_for(reply, **errors, now_ms=now)
        return TaskState(reply[1])

    async def _throw_on_failure(
        self,
        task: ExternalTask,
        worker_id: str,
        seen: Mapping[str, Any],
        raw_variables: Mapping[str, Any] | None,
        raw_local_variables: Mapping[str, Any] | None,
        lock_token: int | None,
    ) -> bool:
        """Evaluate the error event definitions of a failed process task (``seen`` is what
        ``externalTask`` shows); commit the BPMN error of the first true one. False (nothing
        written) when none is true."""
        typed = variables.normalize(raw_variables)
        local = variables.normalize(raw_local_variables)
        instance_id = task.process_instance_id or ""
        for _ in range(MAX_ATTEMPTS):
            state, version = await self.instance_state(instance_id)
            model: ProcessModel = await self._model(state.definition_id)
            step = engine.fail_task(
                model,
                state,
                task.id,
                typed,
                local,
                self.clock(),
                self._ids(instance_id),
                external_task=seen,
            )
            if step is None:
                return False
            new_state, effects, code = step
            message = seen["errorMessage"]
            trigger = {
                "task": task.id,
                "worker": worker_id,
                "outcome": "bpmn_error",
                "token": _token(lock_token),
                "log": ["code", code] + (["msg", message] if message else []),
            }
            reply = await self._commit(new_state, effects, version, trigger, before=state)
            if int(reply[0]) != E_CONFLICT:
                raise_for(reply, task_id=task.id, worker_id=worker_id)
                return True
        raise BrokerError(f"process instance {instance_id} kept changing; failure not handled")


def _token(lock_token: int | None) -> str:
    return "" if lock_token is None else str(lock_token)
