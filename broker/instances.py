"""The process runtime: starts instances and steps them on task outcomes, timers, variable
changes and cancellation. The engine (``broker.engine``) computes each step in pure Python;
every step here is a command run by the executor (``broker.executor``), which reads the state,
commits the step with ``advance.lua`` and recomputes it when another step of the instance won.

Message correlation lives in ``broker.instance_messages`` and failures of process tasks in
``broker.failures``; both run their commands through the same executor.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from redtask.broker import engine, variables
from redtask.broker.bpmn import ProcessModel
from redtask.broker.connection import BACKEND_ERRORS
from redtask.broker.errors import (
    E_CONFLICT,
    BrokerError,
    InstanceNotFound,
    InvalidArgument,
    MessageNotCorrelated,
    raise_for,
)
from redtask.broker.executor import Command, Executor, Found, InstanceBusy, Ready, Step, Write
from redtask.broker.instance_repository import Block, InstanceRepository
from redtask.broker.model import ExternalTask
from redtask.broker.store_base import Clock, partition_task_id

__all__ = ["InstanceNotFound", "MessageNotCorrelated", "ProcessRuntime", "StartTimerTaken"]


class StartTimerTaken(BrokerError):
    """Another scheduler started the instance of this timer start's due time (or the timer
    was disarmed): nothing was stored."""


log = logging.getLogger(__name__)


def _trigger(
    task: ExternalTask, worker_id: str, outcome: str, token: int | None, log: list[str]
) -> dict[str, Any]:
    """What ``advance`` checks and logs about the task whose outcome drives the step."""
    token_text = "" if token is None else str(token)
    return {
        "task": task.id,
        "worker": worker_id,
        "outcome": outcome,
        "token": token_text,
        "log": log,
    }


class ProcessRuntime:
    def __init__(self, repo: InstanceRepository, executor: Executor, clock: Clock) -> None:
        self.repo = repo
        self.executor = executor
        self.clock = clock

    async def start_instance(
        self,
        model: ProcessModel,
        definition_id: str,
        raw_variables: Mapping[str, Any] | None = None,
        business_key: str | None = None,
        tenant_id: str | None = None,
        *,
        version_tag: str | None = None,
        start_event_id: str | None = None,
        claim: Mapping[str, Any] | None = None,
    ) -> Step:
        """Start an instance of ``model`` at ``start_event_id`` (default: the initial start
        event); returns its first state and effects. ``claim`` (a timer start's due time, see
        ``broker.start_timers``) puts the instance in the partition of the claimed member and
        commits it only with the claim.

        Raises InvalidVariable, engine errors (e.g. NoOutgoingFlow) with nothing stored;
        StartTimerTaken when the claimed due time was taken by another scheduler.
        """
        typed = variables.normalize(raw_variables)
        if claim is None:
            instance_id = str(uuid.uuid4())
        else:
            keys = self.repo.keys
            partition = keys.partition_of(str(claim["m"]))
            instance_id = partition_task_id(partition, keys.partitions)
        state, effects = engine.start(
            model,
            instance_id,
            typed,
            business_key,
            tenant_id,
            self.clock(),
            self.repo.ids(instance_id),
            definition_id=definition_id,
            max_bytes=self.repo.settings.max_variables_bytes,
            start_event_id=start_event_id,
        )
        meta = {
            "pd": definition_id,
            "pk": model.key,
            "pvt": version_tag,
            "bk": business_key,
            "tn": tenant_id,
            "sa": start_event_id,
        }
        # a new id: only a claimed due time can conflict
        block = Block(state, effects, 0, None, meta, claim=claim)
        reply = await self.executor.cascade.commit(block)
        if int(reply[0]) == E_CONFLICT:
            raise StartTimerTaken(str(claim["m"]) if claim else instance_id)
        raise_for(reply)
        return state, effects

    async def complete_task(
        self,
        task: ExternalTask,
        worker_id: str,
        raw_variables: Mapping[str, Any] | None,
        raw_local_variables: Mapping[str, Any] | None,
        lock_token: int | None,
    ) -> Step:
        """Complete a task of a process instance and continue the process, atomically.
        Raises TaskNotFound, WorkerMismatch, StaleLock (from ``advance``), InvalidVariable."""
        typed, local = variables.normalize(raw_variables), variables.normalize(raw_local_variables)
        trigger = _trigger(task, worker_id, "complete", lock_token, [])
        errors = {"task_id": task.id, "worker_id": worker_id, "operation": "complete"}
        # what ${externalTask...} sees in camunda:errorEventDefinition expressions
        seen = {
            "id": task.id,
            "topicName": task.topic_name,
            "workerId": task.worker_id,
            "retries": task.retries,
            "errorMessage": task.error_message,
            "errorDetails": task.error_details,
        }

        async def command(found: Found) -> Write[Step]:
            step = engine.complete_task(
                await found.model(),
                found.state,
                task.id,
                typed,
                local,
                self.clock(),
                found.ids,
                external_task=seen,
                max_bytes=self.repo.settings.max_variables_bytes,
            )
            return found.commit(*step, trigger, errors=errors)

        return await self._on_task(task, command)

    async def bpmn_error(
        self,
        task: ExternalTask,
        worker_id: str,
        error_code: str,
        error_message: str | None,
        raw_variables: Mapping[str, Any] | None,
        lock_token: int | None,
    ) -> Step:
        """Throw a BPMN error from a task of a process instance; the engine routes it to a
        boundary error event, or ends the instance as Camunda does for an uncaught error."""
        typed = variables.normalize(raw_variables)
        log = ["code", error_code] + (["msg", error_message] if error_message else [])
        trigger = _trigger(task, worker_id, "bpmn_error", lock_token, log)
        errors = {"task_id": task.id, "worker_id": worker_id, "operation": "bpmnError"}

        async def command(found: Found) -> Write[Step]:
            step = engine.bpmn_error(
                await found.model(),
                found.state,
                task.id,
                error_code,
                error_message,
                typed,
                self.clock(),
                found.ids,
                max_bytes=self.repo.settings.max_variables_bytes,
            )
            return found.commit(*step, trigger, errors=errors)

        return await self._on_task(task, command)

    async def _on_task(self, task: ExternalTask, command: Command[Step]) -> Step:
        instance_id = task.process_instance_id or ""
        return await self.executor.execute(instance_id, command, "step not committed")

    async def cancel_instance(self, instance_id: str, model: ProcessModel | None = None) -> Step:
        """Delete a running instance: its external tasks are deleted (their incidents too), its
        timers and subscriptions cancelled. ``model``: the instance's model, given when its
        definition may already be gone (a deployment being deleted). Raises InstanceNotFound."""

        async def command(found: Found) -> Ready[Step] | Write[Step]:
            state = _running(found, instance_id)
            found_model = model if model is not None else await found.model()
            new_state, effects = engine.cancel(found_model, state)
            if new_state is state:  # nothing to write
                return Ready((state, effects))
            return found.commit(new_state, effects)

        return await self.executor.execute(instance_id, command, "change not committed")

    async def modify_variables(
        self,
        instance_id: str,
        raw_modifications: Mapping[str, Any] | None,
        deletions: Iterable[str] = (),
    ) -> Step:
        """Set, then delete, process-level variables (Camunda's order for a PATCH).

        Raises InvalidVariable (before anything is read), InstanceNotFound.
        """
        typed = variables.normalize(raw_modifications)
        removed = set(deletions)

        async def command(found: Found) -> Ready[Step] | Write[Step]:
            state = _running(found, instance_id)
            merged = {**state.variables, **typed}
            kept = {name: value for name, value in merged.items() if name not in removed}
            if kept == state.variables:  # nothing to write
                return Ready((state, engine.Effects()))
            return found.commit(replace(state, variables=kept), engine.Effects())

        return await self.executor.execute(instance_id, command, "change not committed")

    async def fire_due_timers(self, budget: int) -> int:
        """Fire up to ``budget`` due timers per partition; returns how many fired.

        Safe with several schedulers: a timer fired by another one is gone from the state on
        the recompute after a version conflict, and its entry is simply dropped.
        """
        fired = 0
        now = self.clock()
        for partition in range(self.repo.keys.partitions):
            for member in await self.repo.due_timers(partition, now, budget):
                instance_id, _, timer_id = member.partition("|")
                try:
                    await self._fire_timer(instance_id, timer_id)
                    fired += 1
                except (InstanceNotFound, engine.UnknownTimer, engine.InstanceEnded):
                    await self.repo.drop_timer(partition, member)
                except InstanceBusy:
                    continue  # still due: the next pass tries again
                except BACKEND_ERRORS:
                    raise
                except Exception as exc:  # the step failed: the timer job fails, as in Camunda
                    await self._timer_failed(instance_id, timer_id, exc)
        return fired

    async def _timer_failed(self, instance_id: str, timer_id: str, exc: Exception) -> None:
        ids = {"process_instance_id": instance_id, "timer_id": timer_id}
        known = isinstance(exc, BrokerError | ValueError)
        message = str(exc) if known else f"{type(exc).__name__}: {exc}"
        try:
            reply = await self.repo.fail_timer(instance_id, timer_id, message)
        except InstanceNotFound:
            return
        outcome = int(reply[0])
        if outcome == 0:  # fired or cancelled meanwhile
            return
        level, then = (
            (logging.WARNING, "retries left: %s")
            if outcome == 1
            else (logging.ERROR, "no retries left: incident %s")
        )
        log.log(
            level,
            "timer %s of process instance %s failed (%s); " + then,
            timer_id,
            instance_id,
            message,
            reply[1],
            extra=ids,
            exc_info=not known,
        )

    async def set_job_retries(self, job_id: str, retries: int) -> None:
        """Camunda's setJobRetries. redtask's jobs are the timers whose step failed: retries
        above 0 resolve the job's incident and make the timer due at once. Raises
        InvalidArgument (negative retries), JobNotFound."""
        if retries < 0:
            raise InvalidArgument(
                "The number of job retries must be a non-negative Integer, "
                f"but '{retries}' has been provided."
            )
        await self.repo.set_timer_retries(job_id, retries)

    async def _fire_timer(self, instance_id: str, timer_id: str) -> None:
        async def command(found: Found) -> Write[Step]:
            step = engine.fire_timer(
                await found.model(),
                found.state,
                timer_id,
                self.clock(),
                found.ids,
                max_bytes=self.repo.settings.max_variables_bytes,
            )
            return found.commit(*step, fired_timer=timer_id)

        await self.executor.execute(instance_id, command, "timer not fired")


def _running(found: Found, instance_id: str) -> engine.InstanceState:
    """The state of a running instance. Raises InstanceNotFound for one that ended."""
    if found.state.status != "active":
        raise InstanceNotFound(instance_id)
    return found.state
