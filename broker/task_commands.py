"""Commands on external tasks, one script each: publish, fetch-and-lock, lock, extend and
release a lock, retries, priority, and the scheduler's sweep. (Completions and BPMN errors are
in ``broker.task_outcomes``, failures in ``broker.failures``: those may hand the task to the
process runtime.)

Every command validates its input before the first write, passes the clock to the script
(``now_ms``; scripts never call TIME) and maps the script's status to ``broker.errors``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, TypeVar

import orjson

from redtask.broker import validate
from redtask.broker.errors import DuplicateTask, InvalidArgument, TaskNotFound, raise_for
from redtask.broker.fetching import fetched_view, lua_filters
from redtask.broker.instance_repository import InstanceRepository
from redtask.broker.keys import Keys
from redtask.broker.model import ExternalTask, NewTask, TopicRequest, pairs_to_dict, task_from_hash
from redtask.broker.redis_layer import RedisLayer
from redtask.broker.settings import Settings
from redtask.broker.store_base import Clock, new_task_id
from redtask.broker.task_outcomes import lock_token_arg

SortOrder = Literal["asc", "desc"]
T = TypeVar("T")


class TaskCommands:
    def __init__(
        self,
        db: RedisLayer,
        keys: Keys,
        settings: Settings,
        clock: Clock,
        instances: InstanceRepository,
    ) -> None:
        self.db = db
        self.keys = keys
        self.settings = settings
        self.clock = clock
        self.instances = instances
        self._rotation = itertools.count()

    def _prefix_of(self, task_id: str) -> str:
        return self.keys.prefix(self.keys.partition_of(task_id))

    async def _exist(self, task_ids: Sequence[str]) -> list[bool]:
        found = await self.db.execute_many(("EXISTS", self.keys.task(i)) for i in task_ids)
        return [bool(exists) for exists in found]

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
            task_id = task.id or new_task_id()
            max_bytes = self.settings.max_variables_bytes
            fields = validate.variable_fields(task.variables, max_bytes=max_bytes)
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
            for task_id, exists in zip(ids, await self._exist(ids), strict=True):
                if exists:
                    raise DuplicateTask(task_id)
        now = self.clock()
        wake = self.keys.wake_channel
        for partition, args in by_partition.items():
            reply = await self.db.call("publish", self.keys.prefix(partition), now, wake, *args)
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
        hashes, unique = await self._lock(
            worker_id, max_tasks, topics, use_priority, sort_create_time
        )
        locked = [task_from_hash(task_id, h) for task_id, h in hashes]
        # tasks of process instances see the variables of their execution and its scopes
        states = await self.instances.states(
            sorted({t.process_instance_id for t in locked if t.process_instance_id})
        )
        return [
            fetched_view(t, states.get(t.process_instance_id or ""), unique[t.topic_name])
            for t in locked
        ]

    async def fetch_and_lock_as(
        self,
        worker_id: str,
        max_tasks: int,
        topics: Sequence[TopicRequest],
        build: Callable[[str, dict[str, str], TopicRequest], T],
        convert: Callable[[ExternalTask], T],
        *,
        use_priority: bool = False,
    ) -> list[T]:
        """``fetch_and_lock`` for a caller with task objects of its own (the worker SDK): a
        standalone task is made by ``build(task_id, task hash, its topic's request)`` straight
        from its hash, and must apply the topic's ``variables`` selection as ``fetched_view``
        does; a task of a process instance (its variables live in the instance) is made by
        ``convert`` from its fetched view. One object per task, in the order locked."""
        hashes, unique = await self._lock(worker_id, max_tasks, topics, use_priority, None)
        out: list[T | None] = []
        process: list[tuple[int, ExternalTask]] = []
        for task_id, h in hashes:
            if "pi" in h or "xp" in h:
                process.append((len(out), task_from_hash(task_id, h)))
                out.append(None)
            else:
                out.append(build(task_id, h, unique[h["t"]]))
        if process:
            states = await self.instances.states(
                sorted({t.process_instance_id for _, t in process if t.process_instance_id})
            )
            for i, t in process:
                state = states.get(t.process_instance_id or "")
                out[i] = convert(fetched_view(t, state, unique[t.topic_name]))
        return out  # type: ignore[return-value]  # every slot is filled

    async def _lock(
        self,
        worker_id: str,
        max_tasks: int,
        topics: Sequence[TopicRequest],
        use_priority: bool,
        sort_create_time: SortOrder | None,
    ) -> tuple[list[tuple[str, dict[str, str]]], dict[str, TopicRequest]]:
        """Lock tasks as ``fetch_and_lock`` does: (their ids and hashes, the requests by
        topic). Raises InvalidArgument before locking anything."""
        worker_id = validate.worker_id(worker_id)
        validate.integer("maxTasks", max_tasks, 0)
        # topics are keyed by name: a later duplicate replaces the earlier one (as Camunda)
        max_len = self.settings.max_topic_length
        unique = {validate.topic_name(t.topic_name, max_len): t for t in topics}
        now = self.clock()
        for t in unique.values():
            if validate.integer("lockDuration", t.lock_duration) <= 0:
                raise InvalidArgument("lockTime is not greater than 0")
            validate.within_dates("lockDuration", t.lock_duration, now)
        if max_tasks == 0 or not unique:
            return [], unique
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
        locked: list[tuple[str, dict[str, str]]] = []
        for i in range(self.keys.partitions):
            prefix = self.keys.prefix((start + i) % self.keys.partitions)
            reply = await self.db.call(
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
            at = 2  # each task: its id, m, then the m values of its hash (field, value, ...)
            while at < len(reply):
                end = at + 2 + int(reply[at + 1])
                locked.append((reply[at], pairs_to_dict(reply[at + 2 : end])))
                at = end
            if len(locked) >= max_tasks:
                break
        return locked, unique

    async def lock(self, task_id: str, worker_id: str, lock_duration: int) -> int:
        """Lock one task by id; returns the new lock token. Raises TaskNotFound, WorkerMismatch."""
        worker_id = validate.worker_id(worker_id)
        now = self.clock()
        validate.within_dates("lockDuration", validate.integer("lockDuration", lock_duration), now)
        reply = await self.db.call(
            "lock", self._prefix_of(task_id), now, task_id, worker_id, lock_duration
        )
        raise_for(reply, task_id=task_id, worker_id=worker_id, operation="lock")
        return int(reply[1])

    async def extend_lock(
        self, task_id: str, worker_id: str, new_duration: int, *, lock_token: int | None = None
    ) -> None:
        """Set the lock to expire at now + new_duration. Raises LockExpired, WorkerMismatch, ..."""
        if validate.integer("newDuration", new_duration) <= 0:
            raise InvalidArgument("lockTime is not greater than 0")
        worker_id = validate.worker_id(worker_id)
        now = self.clock()
        validate.within_dates("newDuration", new_duration, now)
        reply = await self.db.call(
            "extend_lock",
            self._prefix_of(task_id),
            now,
            task_id,
            worker_id,
            lock_token_arg(lock_token),
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
        reply = await self.db.call(
            "unlock",
            self._prefix_of(task_id),
            self.clock(),
            task_id,
            self.keys.wake_channel,
            lock_token_arg(lock_token),
        )
        raise_for(reply, task_id=task_id, token=lock_token or 0)

    async def set_retries(self, task_id: str, retries: int) -> None:
        """Raises InvalidArgument, TaskNotFound."""
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
        all_ids = [i for ids in by_partition.values() for i in ids]
        for task_id, exists in zip(all_ids, await self._exist(all_ids), strict=True):
            if not exists:
                raise TaskNotFound(task_id)
        updated = 0
        for partition, ids in by_partition.items():
            pairs = [x for task_id in ids for x in (task_id, new_task_id())]
            reply = await self.db.call(
                "set_retries",
                self.keys.prefix(partition),
                self.clock(),
                retries,
                self.keys.wake_channel,
                *pairs,
            )
            raise_for(reply)
            updated += int(reply[1])
        return updated

    async def set_priority(self, task_id: str, priority: int) -> None:
        """Raises InvalidArgument, TaskNotFound."""
        validate.integer("priority", priority)
        reply = await self.db.call(
            "set_priority", self._prefix_of(task_id), self.clock(), task_id, priority
        )
        raise_for(reply, task_id=task_id)

    async def sweep(self, budget: int | None = None) -> tuple[int, bool]:
        """One scheduler pass over every partition: (tasks moved, more work left)."""
        budget = budget or self.settings.scheduler_batch
        moved, more = 0, False
        for partition in range(self.keys.partitions):
            reply = await self.db.call(
                "sweep", self.keys.prefix(partition), self.clock(), budget, self.keys.wake_channel
            )
            raise_for(reply)
            moved += int(reply[1])
            more = more or reply[2] == 1
        return moved, more
