"""Process instances in Redis: each engine step is committed by ``advance.lua`` with a version
check (compare-and-set), and recomputed from the fresh state when another step won the race.

``StoreInstances`` is mixed into ``broker.store.Store`` (it is part of the store layer). The
engine itself (``broker.engine``) is pure; this module reads the state, runs the step and
commits its effects: the instance state, the external tasks created and cancelled, timers.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import orjson

from redtask.broker import engine, variables
from redtask.broker.bpmn import ProcessModel
from redtask.broker.errors import BrokerError, raise_for
from redtask.broker.keys import Keys
from redtask.broker.model import ExternalTask
from redtask.broker.store_base import StoreBase

ModelSource = Callable[[str], Awaitable[ProcessModel]]
Step = tuple[engine.InstanceState, engine.Effects]
E_CONFLICT = -9
MAX_ATTEMPTS = 50


class InstanceNotFound(BrokerError):
    def __init__(self, instance_id: str) -> None:
        super().__init__(f"Process instance with id {instance_id} does not exist")
        self.instance_id = instance_id


class MessageNotCorrelated(BrokerError):
    """Camunda's MismatchingMessageCorrelationException, with its message: no execution
    matches, or ``matches`` do where one was asked for (``correlation_set`` as Java prints it)."""

    def __init__(self, message_name: str, matches: int, correlation_set: str = "") -> None:
        if matches == 0:
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


def _messages_waited(state: engine.InstanceState | None) -> set[str]:
    """The message names some execution of the instance waits for."""
    if state is None or state.status != "active":
        return set()
    return {e.wait.ref for e in state.executions if e.wait is not None and e.wait.kind == "message"}


# the REST operation that reports each task outcome (Camunda words a refusal per operation)
_OPERATIONS = {"complete": "complete", "bpmn_error": "bpmnError"}


class PartitionIds:
    """Ids that land in one partition: an instance's tasks live beside it."""

    def __init__(self, keys: Keys, partition: int, new_id: Callable[[], str]) -> None:
        self.keys = keys
        self.partition = partition
        self._new_id = new_id

    def new_id(self) -> str:
        while True:
            candidate = self._new_id()
            if self.keys.partition_of(candidate) == self.partition:
                return candidate


class StoreInstances(StoreBase):
    models: ModelSource | None = None

    def _ids(self, instance_id: str) -> PartitionIds:
        return PartitionIds(self.keys, self.keys.partition_of(instance_id), self.new_task_id)

    async def _model(self, definition_id: str) -> ProcessModel:
        if self.models is None:
            raise BrokerError("no process definitions are available to this store")
        return await self.models(definition_id)

    async def instance_state(self, instance_id: str) -> tuple[engine.InstanceState, int]:
        """The state and version of an instance. Raises InstanceNotFound."""
        raw, version = await self.redis.hmget(self.keys.instance(instance_id), "st", "ver")
        if raw is None:
            raise InstanceNotFound(instance_id)
        return engine.InstanceState.from_json(orjson.loads(raw)), int(str(version))

    async def start_instance(
        self,
        model: ProcessModel,
        definition_id: str,
        raw_variables: Mapping[str, Any] | None = None,
        business_key: str | None = None,
        tenant_id: str | None = None,
        *,
        version_tag: str | None = None,
    ) -> Step:
        """Start an instance of ``model``; returns its first state and effects.

        Raises InvalidVariable, engine errors (e.g. NoOutgoingFlow) with nothing stored.
        """
        typed = variables.normalize(raw_variables)
        instance_id = str(uuid.uuid4())
        state, effects = engine.start(
            model,
            instance_id,
            typed,
            business_key,
            tenant_id,
            self.clock(),
            self._ids(instance_id),
            definition_id=definition_id,
        )
        meta = {
            "pd": definition_id,
            "pk": model.key,
            "pvt": version_tag,
            "bk": business_key,
            "tn": tenant_id,
        }
        await self._commit(state, effects, 0, {}, meta)
        return state, effects

    async def _commit(
        self,
        state: engine.InstanceState,
        effects: engine.Effects,
        expected: int,
        trigger: Mapping[str, Any],
        meta: Mapping[str, Any] | None = None,
        fired_timer: str | None = None,
        before: engine.InstanceState | None = None,
    ) -> list[Any]:
        tasks = [
            {
                "id": t.id,
                "topic": t.topic,
                "priority": str(t.priority),
                "act": t.activity_id,
                "ai": t.activity_instance_id,
                "ex": t.execution_id,
                "xp": orjson.dumps(dict(t.extension_properties)).decode()
                if t.extension_properties
                else "",
                "eed": "1" if t.error_events else "",
            }
            for t in effects.tasks_created
        ]
        timers = {
            "add": [[t.id, t.due_ms] for t in effects.timers_scheduled],
            "remove": list(effects.timers_cancelled) + ([fired_timer] if fired_timer else []),
        }
        status = state.status
        waited, waiting = _messages_waited(before), _messages_waited(state)
        messages = {"open": sorted(waiting - waited), "close": sorted(waited - waiting)}
        reply: list[Any] = await self._call(
            "advance",
            self.keys.prefix(self.keys.partition_of(state.instance_id)),
            self.clock(),
            state.instance_id,
            expected,
            orjson.dumps(state.to_json()),
            status,
            self.keys.wake_channel,
            orjson.dumps(trigger),
            orjson.dumps(meta or {}),
            orjson.dumps(tasks),
            orjson.dumps(list(effects.tasks_deleted)),
            orjson.dumps(timers),
            self.settings.history_ttl_s,
            self.settings.finished_log_length,
            orjson.dumps(messages),
        )
        return reply

    async def _step(
        self,
        task: ExternalTask,
        trigger: Mapping[str, Any],
        run: Callable[[ProcessModel, engine.InstanceState, engine.Ids], Step],
    ) -> Step:
        """Run ``run`` on the instance of ``task`` and commit it; recompute on a conflict."""
        instance_id = task.process_instance_id or ""
        for _ in range(MAX_ATTEMPTS):
            state, version = await self.instance_state(instance_id)
            model = await self._model(state.definition_id)
            new_state, effects = run(model, state, self._ids(instance_id))
            reply = await self._commit(new_state, effects, version, trigger, before=state)
            if int(reply[0]) != E_CONFLICT:
                raise_for(
                    reply,
                    task_id=task.id,
                    worker_id=str(trigger.get("worker", "")),
                    operation=_OPERATIONS[trigger["outcome"]],
                )
                return new_state, effects
        raise BrokerError(f"process instance {instance_id} kept changing; step not committed")

    async def complete_process_task(
        self,
        task: ExternalTask,
        worker_id: str,
        raw_variables: Mapping[str, Any] | None,
        raw_local_variables: Mapping[str, Any] | None,
        lock_token: int | None,
    ) -> Step:
        """Complete a task of a process instance and continue the process, atomically."""
        typed, local = variables.normalize(raw_variables), variables.normalize(raw_local_variables)
        trigger = {
            "task": task.id,
            "worker": worker_id,
            "outcome": "complete",
            "token": "" if lock_token is None else str(lock_token),
            "log": [],
        }

        # what ${externalTask...} sees in camunda:errorEventDefinition expressions (§6.3)
        seen = {
            "id": task.id,
            "topicName": task.topic_name,
            "workerId": task.worker_id,
            "retries": task.retries,
            "errorMessage": task.error_message,
            "errorDetails": task.error_details,
        }

        def run(model: ProcessModel, state: engine.InstanceState, ids: engine.Ids) -> Step:
            return engine.complete_task(
                model, state, task.id, typed, local, self.clock(), ids, external_task=seen
            )

        return await self._step(task, trigger, run)

    async def bpmn_error_process_task(
        self,
        task: ExternalTask,
        worker_id: str,
        error_code: str,
        error_message: str | None,
        raw_variables: Mapping[str, Any] | None,
        lock_token: int | None,
    ) -> Step:
        """Throw a BPMN error from a task of a process instance; the engine routes it (§6.4)."""
        typed = variables.normalize(raw_variables)
        log = ["code", error_code] + (["msg", error_message] if error_message else [])
        trigger = {
            "task": task.id,
            "worker": worker_id,
            "outcome": "bpmn_error",
            "token": "" if lock_token is None else str(lock_token),
            "log": log,
        }

        def run(model: ProcessModel, state: engine.InstanceState, ids: engine.Ids) -> Step:
            return engine.bpmn_error(
                model, state, task.id, error_code, error_message, typed, self.clock(), ids
            )

        return await self._step(task, trigger, run)

    async def _change(
        self, instance_id: str, run: Callable[[engine.InstanceState], Awaitable[Step]]
    ) -> Step:
        """Run ``run`` on a running instance and commit it; recompute on a conflict.

        Raises InstanceNotFound, also for an instance that has ended.
        """
        for _ in range(MAX_ATTEMPTS):
            state, version = await self.instance_state(instance_id)
            if state.status != "active":
                raise InstanceNotFound(instance_id)
            new_state, effects = await run(state)
            if new_state is state:  # nothing to write
                return state, effects
            reply = await self._commit(new_state, effects, version, {}, before=state)
            if int(reply[0]) != E_CONFLICT:
                raise_for(reply)
                return new_state, effects
        raise BrokerError(f"process instance {instance_id} kept changing; change not committed")

    async def cancel_instance(self, instance_id: str, model: ProcessModel | None = None) -> Step:
        """Delete a running instance: its external tasks are deleted (their incidents too), its
        timers and subscriptions cancelled. ``model``: the instance's model, given when its
        definition may already be gone (a deployment being deleted). Raises InstanceNotFound."""

        async def run(state: engine.InstanceState) -> Step:
            found = model if model is not None else await self._model(state.definition_id)
            return engine.cancel(found, state)

        return await self._change(instance_id, run)

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

        async def run(state: engine.InstanceState) -> Step:
            merged = {**state.variables, **typed}
            kept = {name: value for name, value in merged.items() if name not in removed}
            changed = kept != state.variables
            return (replace(state, variables=kept) if changed else state), engine.Effects()

        return await self._change(instance_id, run)

    async def fire_due_timers(self, budget: int) -> int:
        """Fire up to ``budget`` due timers per partition; returns how many fired.

        Safe with several schedulers: a timer fired by another one is gone from the state on
        the recompute after a version conflict, and its entry is simply dropped.
        """
        fired = 0
        now = self.clock()
        for partition in range(self.keys.partitions):
            key = self.keys.timers(partition)
            due = await self.redis.zrangebyscore(key, "-inf", now, start=0, num=budget)
            for member in map(str, due):
                instance_id, _, timer_id = member.partition("|")
                try:
                    await self._fire_timer(instance_id, timer_id)
                    fired += 1
                except (InstanceNotFound, engine.UnknownTimer, engine.InstanceEnded):
                    await self.redis.zrem(key, member)
        return fired

    async def _fire_timer(self, instance_id: str, timer_id: str) -> None:
        for _ in range(MAX_ATTEMPTS):
            state, version = await self.instance_state(instance_id)
            model = await self._model(state.definition_id)
            new_state, effects = engine.fire_timer(
                model, state, timer_id, self.clock(), self._ids(instance_id)
            )
            reply = await self._commit(
                new_state, effects, version, {}, fired_timer=timer_id, before=state
            )
            if int(reply[0]) != E_CONFLICT:
                raise_for(reply)
                return
        raise BrokerError(f"process instance {instance_id} kept changing; timer not fired")
