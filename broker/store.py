"""The store: the only code that talks to Redis. One method per transition, one script each.

Every method validates its input before the first write, passes the clock to the script
(``now_ms``; scripts never call TIME) and maps the script's status to ``broker.errors``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from redtask.broker import process_start, task_selection, validate
from redtask.broker.connection import check_eviction_policy, client_for, ensure_partitions
from redtask.broker.definition_model import ProcessDefinition
from redtask.broker.engine import InstanceState
from redtask.broker.errors import (
    DuplicateTask,
    InvalidArgument,
    ProcessTask,
    TaskNotFound,
    raise_for,
)
from redtask.broker.failures import StoreFailures
from redtask.broker.fetching import fetched_view, lua_filters
from redtask.broker.history import StoreHistory
from redtask.broker.instance_messages import StoreMessages
from redtask.broker.instance_reads import StoreInstanceReads
from redtask.broker.instances import StoreInstances
from redtask.broker.keys import Keys
from redtask.broker.model import (
    ExternalTask,
    NewTask,
    TopicRequest,
    pairs_to_dict,
    task_from_hash,
)
from redtask.broker.query import TaskQuery
from redtask.broker.reads import StoreReads
from redtask.broker.settings import Settings
from redtask.broker.store_base import Clock, wall_clock_ms

SortOrder = Literal["asc", "desc"]
__all__ = ["Clock", "Completion", "Store", "open_store", "wall_clock_ms"]


@dataclass(frozen=True, slots=True)
class Completion:
    """One item of ``complete_many``."""

    task_id: str
    worker_id: str
    variables: Mapping[str, Any] | None = None
    local_variables: Mapping[str, Any] | None = None
    lock_token: int | None = None


class Store(
    StoreFailures, StoreMessages, StoreInstances, StoreReads, StoreHistory, StoreInstanceReads
):
    """Async access to the broker's Redis data. Create with ``Store(client, settings)``."""

    async def publish(self, task: NewTask) -> str:
        """Create a standalone task; returns its id. Raises InvalidArgument, DuplicateTask."""
        return (await self.publish_many([task]))[0]

    async def publish_many(self, tasks: Sequence[NewTask]) -> list[str]:
        """Create tasks; returns their ids. Raises InvalidArgument, DuplicateTask.

        Every task is checked before the first write. Each partition's share is written by one
        script (all or none); caller-chosen ids are checked across partitions beforehand.
        """
        by_partition: dict[int, list[str]] = {}
        ids: list[str] = []
        for task in tasks:
            task_id = task.id or self.new_task_id()
            fields = validate.variable_fields(task.variables, max_bytes=self._max_vars)
            meta: dict[str, Any] = {
                "id": task_id,
                "topic": validate.topic_name(task.topic, self.settings.max_topic_length),
                "priority": str(validate.integer("priority", task.priority)),
                "retries": None
                if task.retries is None
                else str(validate.integer("retries", task.retries, 1, 2**31 - 1)),
                "businessKey": task.business_key,
                "tenantId": task.tenant_id,
                "nv": len(fields) // 2,
            }
            part = by_partition.setdefault(self.keys.partition_of(task_id), [])
            part += [orjson.dumps(meta).decode(), *fields]
            if task_id in ids:
                raise DuplicateTask(task_id)
            ids.append(task_id)
        if len(by_partition) > 1 and any(t.id for t in tasks):
            async with self.redis.pipeline(transaction=False) as pipe:
                for task_id in ids:
                    pipe.exists(self.keys.task(task_id))
                found = await pipe.execute()
            for task_id, exists in zip(ids, found, strict=True):
                if exists:
                    raise DuplicateTask(task_id)
        now = self.clock()
        for partition, args in by_partition.items():
            reply = await self._call(
                "publish", self.keys.prefix(partition), now, self._wake(), *args
            )
            raise_for(reply)
        return ids

    async def fetch_and_lock(
        self,
        worker_id: str,
        max_tasks: int,
        topics: Sequence[TopicRequest],
        *,
        use_priority: bool = False,
        sort_create_time: SortOrder | None = None,
    ) -> list[ExternalTask]:
        """Lock up to ``max_tasks`` fetchable tasks; visits partitions from a rotating start."""
        worker_id = validate.worker_id(worker_id)
        validate.integer("maxTasks", max_tasks, 0)
        # topics are keyed by name: a later duplicate replaces the earlier one (as Camunda)
        max_len = self.settings.max_topic_length
        unique = {validate.topic_name(t.topic_name, max_len): t for t in topics}
        for t in unique.values():
            if validate.integer("lockDuration", t.lock_duration) <= 0:
                raise InvalidArgument("lockTime is not greater than 0")
        if max_tasks == 0 or not unique:
            return []
        if use_priority:
            order = "prio_desc" if sort_create_time == "desc" else "prio"
        else:
            order = {None: "prio", "asc": "ct_asc", "desc": "ct_desc"}[sort_create_time]
        spec = orjson.dumps(
            [
                {"topic": name, "lock": str(t.lock_duration), "f": lua_filters(t)}
                for name, t in unique.items()
            ]
        ).decode()
        start = next(self._rotation)
        locked: list[ExternalTask] = []
        for i in range(self.keys.partitions):
            prefix = self.keys.prefix((start + i) % self.keys.partitions)
            reply = await self._call(
                "fetch_and_lock",
                prefix,
                self.clock(),
                worker_id,
                max_tasks - len(locked),
                order,
                self.settings.fetch_scan_budget,
                self.settings.reclaim_batch,
                spec,
            )
            raise_for(reply)
            for task_id, flat in zip(reply[2::2], reply[3::2], strict=True):
                locked.append(task_from_hash(task_id, pairs_to_dict(flat)))
            if len(locked) >= max_tasks:
                break
        # tasks of process instances see the variables of their execution and its scopes
        states = await self._states_of(locked)
        return [
            fetched_view(t, states.get(t.process_instance_id or ""), unique[t.topic_name])
            for t in locked
        ]

    async def _states_of(self, tasks: Sequence[ExternalTask]) -> dict[str, InstanceState]:
        """The states of the instances of process tasks by instance id (ended ones absent)."""
        instance_ids = sorted({t.process_instance_id for t in tasks if t.process_instance_id})
        if not instance_ids:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for instance_id in instance_ids:
                pipe.hget(self.keys.instance(instance_id), "st")
            raws = await pipe.execute()
        return {
            i: InstanceState.from_json(orjson.loads(raw))
            for i, raw in zip(instance_ids, raws, strict=True)
            if raw is not None
        }

    async def lock(self, task_id: str, worker_id: str, lock_duration: int) -> int:
        """Lock one task by id; returns the new lock token. Raises TaskNotFound, WorkerMismatch."""
        worker_id = validate.worker_id(worker_id)
        validate.integer("lockDuration", lock_duration)
        reply = await self._call(
            "lock", self._prefix_of(task_id), self.clock(), task_id, worker_id, lock_duration
        )
        raise_for(reply, task_id=task_id, worker_id=worker_id, operation="lock")
        return int(reply[1])

    def _completion_slots(self, c: Completion) -> list[str]:
        """The five ARGV slots of one task in complete.lua; raises for bad input."""
        # variables are checked before the worker id, in Camunda's order
        variables, local_variables = self._vars(c.variables), self._vars(c.local_variables)
        worker_id = validate.worker_id(c.worker_id)
        return [c.task_id, worker_id, _token(c.lock_token), variables, local_variables]

    def _complete_call(self, partition: int, items: list[list[str]]) -> tuple[str, str, list[Any]]:
        """complete.lua's arguments: the items as one JSON array, variable texts after it."""
        texts: list[str] = []
        spec = []
        for task_id, worker_id, token, variables, local_variables in items:
            slots = []
            for text in (variables, local_variables):
                if text:
                    texts.append(text)
                    slots.append(3 + len(texts))  # ARGV index: now, maxlen, spec, texts...
                else:
                    slots.append(0)
            spec.append([task_id, worker_id, token, *slots])
        args = [self.clock(), self.settings.finished_log_length, orjson.dumps(spec), *texts]
        return "complete", self.keys.prefix(partition), args

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
        for members, reply in zip(groups.values(), await self._call_many(calls), strict=True):
            for n, i in enumerate(members):
                c = items[i]
                try:
                    if isinstance(reply, Exception):
                        raise reply
                    raise_for(
                        reply[2 * n : 2 * n + 2],
                        task_id=c.task_id,
                        worker_id=c.worker_id,
                        token=c.lock_token or 0,
                        operation="complete",
                    )
                except ProcessTask:
                    results[i] = await self._complete_in_process(c)
                except Exception as exc:  # returned, not raised: one item must not hide others
                    results[i] = exc
        return results

    async def _complete_in_process(self, c: Completion) -> Exception | None:
        try:
            task = await self.get(c.task_id)
            await self.complete_process_task(
                task, c.worker_id, c.variables, c.local_variables, c.lock_token
            )
        except Exception as exc:  # returned like every other item's error
            return exc
        return None

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
        variables_json = self._vars(variables)  # converted first, in Camunda's order
        worker_id = validate.worker_id(worker_id)
        if not isinstance(error_code, str) or not error_code:
            raise InvalidArgument("errorCode is null")
        reply = await self._call(
            "handle_bpmn_error",
            self._prefix_of(task_id),
            self.clock(),
            task_id,
            worker_id,
            _token(lock_token),
            error_code,
            error_message or "",
            variables_json,
            self.settings.finished_log_length,
        )
        try:
            raise_for(
                reply,
                task_id=task_id,
                worker_id=worker_id,
                token=lock_token or 0,
                operation="bpmnError",
            )
        except ProcessTask:
            task = await self.get(task_id)
            await self.bpmn_error_process_task(
                task, worker_id, error_code, error_message, variables, lock_token
            )

    async def extend_lock(
        self, task_id: str, worker_id: str, new_duration: int, *, lock_token: int | None = None
    ) -> None:
        """Set the lock to expire at now + new_duration. Raises LockExpired, WorkerMismatch, ..."""
        if validate.integer("newDuration", new_duration) <= 0:
            raise InvalidArgument("lockTime is not greater than 0")
        worker_id = validate.worker_id(worker_id)
        now = self.clock()
        reply = await self._call(
            "extend_lock",
            self._prefix_of(task_id),
            now,
            task_id,
            worker_id,
            _token(lock_token),
            new_duration,
        )
        raise_for(
            reply,
            task_id=task_id,
            worker_id=worker_id,
            token=lock_token or 0,
            now_ms=now,
            operation="extendLock",
        )

    async def unlock(self, task_id: str, *, lock_token: int | None = None) -> None:
        """Release the lock; the task becomes fetchable. With ``lock_token``, only if no other
        lock was taken since that one. Raises TaskNotFound, StaleLock."""
        reply = await self._call(
            "unlock",
            self._prefix_of(task_id),
            self.clock(),
            task_id,
            self._wake(),
            _token(lock_token),
        )
        raise_for(reply, task_id=task_id, token=lock_token or 0)

    async def set_retries(self, task_id: str, retries: int) -> None:
        await self.set_retries_many([task_id], retries)

    async def set_retries_many(self, task_ids: Iterable[str], retries: int) -> int:
        """Set retries of many tasks (0 opens incidents, > 0 resolves them).

        Every id is checked before any write; an unknown id raises TaskNotFound. Atomic per
        partition: a task deleted concurrently aborts only its own partition's update.
        """
        if validate.integer("retries", retries) < 0:
            raise InvalidArgument("retries is not greater than or equal to 0")
        by_partition: dict[int, list[str]] = {}
        for task_id in dict.fromkeys(task_ids):
            by_partition.setdefault(self.keys.partition_of(task_id), []).append(task_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            for ids in by_partition.values():
                for task_id in ids:
                    pipe.exists(self.keys.task(task_id))
            found = await pipe.execute()
        all_ids = [i for ids in by_partition.values() for i in ids]
        for task_id, exists in zip(all_ids, found, strict=True):
            if not exists:
                raise TaskNotFound(task_id)
        updated = 0
        for partition, ids in by_partition.items():
            pairs = [x for task_id in ids for x in (task_id, self.new_task_id())]
            reply = await self._call(
                "set_retries",
                self.keys.prefix(partition),
                self.clock(),
                retries,
                self._wake(),
                *pairs,
            )
            raise_for(reply)
            updated += int(reply[1])
        return updated

    async def set_priority(self, task_id: str, priority: int) -> None:
        validate.integer("priority", priority)
        reply = await self._call(
            "set_priority", self._prefix_of(task_id), self.clock(), task_id, priority
        )
        raise_for(reply, task_id=task_id)

    async def sweep(self, budget: int | None = None) -> tuple[int, bool]:
        """One scheduler pass over every partition: (tasks moved, more work left)."""
        budget = budget or self.settings.scheduler_batch
        moved, more = 0, False
        for partition in range(self.keys.partitions):
            reply = await self._call(
                "sweep", self.keys.prefix(partition), self.clock(), budget, self._wake()
            )
            raise_for(reply)
            moved += int(reply[1])
            more = more or reply[2] == 1
        return moved, more

    async def start_process_instance(
        self,
        definition: ProcessDefinition,
        raw_variables: Mapping[str, Any] | None = None,
        business_key: str | None = None,
    ) -> InstanceState:
        return await process_start.start_process_instance(
            self, definition, raw_variables, business_key
        )

    async def select_task_ids(
        self,
        task_ids: Iterable[str] = (),
        process_instance_ids: Iterable[str] = (),
        query: TaskQuery | None = None,
    ) -> list[str]:
        return await task_selection.select_task_ids(self, task_ids, process_instance_ids, query)


async def open_store(settings: Settings, clock: Clock = wall_clock_ms) -> Store:
    """Connect to ``settings.redis_url`` after checking it is safe to use.

    Raises ConfigurationError for an evicting server or a different partition count.
    """
    if not settings.redis_url:
        raise InvalidArgument("no Redis URL configured (set REDTASK_REDIS_URL)")
    client = client_for(settings.redis_url)
    try:
        await check_eviction_policy(client, settings.redis_url)
        await ensure_partitions(client, Keys(settings.namespace, settings.partitions))
    except BaseException:
        await client.aclose()
        raise
    return Store(client, settings, clock)


def _token(lock_token: int | None) -> str:
    return "" if lock_token is None else str(lock_token)
