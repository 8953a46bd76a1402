"""The store: the only code that talks to Redis. One method per transition, one script each.

Every method validates its input before the first write, passes the clock to the script
(``now_ms``; scripts never call TIME) and maps the script's status to ``broker.errors``.
"""

from __future__ import annotations

import itertools
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import orjson
import redis.asyncio as aioredis

from broker import scripts, variables
from broker.errors import InvalidArgument, TaskNotFound, raise_for
from broker.keys import Keys
from broker.model import (
    ExternalTask,
    Incident,
    NewTask,
    TaskState,
    TopicRequest,
    TopicStats,
    incident_from_hash,
    pairs_to_dict,
    task_from_hash,
)
from broker.query import TaskQuery, sort_and_page
from broker.settings import Settings

Clock = Callable[[], int]
SortOrder = Literal["asc", "desc"]
MAX_ERROR_MESSAGE = 666  # Camunda truncates errorMessage to this many characters
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Completion:
    """One item of ``complete_many``."""

    task_id: str
    worker_id: str
    variables: Mapping[str, Any] | None = None
    local_variables: Mapping[str, Any] | None = None
    lock_token: int | None = None


class Store:
    """Async access to the broker's Redis data. Create with ``Store(client, settings)``."""

    def __init__(
        self, client: aioredis.Redis, settings: Settings, clock: Clock = wall_clock_ms
    ) -> None:
        self.redis = client
        self.settings = settings
        self.keys = Keys(settings.namespace, settings.partitions)
        self.clock = clock
        self._scripts = {name: client.register_script(scripts.source(name)) for name in scripts.NAMES}
        self._rotation = itertools.count()

    # ------------------------------------------------------------------ validation helpers
    def _topic(self, topic: Any) -> str:
        if not isinstance(topic, str) or not topic:
            raise InvalidArgument("topicName is null")
        if len(topic) > self.settings.max_topic_length:
            raise InvalidArgument(
                f"topic name is longer than {self.settings.max_topic_length} characters"
            )
        if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in topic):
            raise InvalidArgument(f"topic name {topic!r} contains control characters")
        return topic

    def _vars_json(self, raw: Mapping[str, Any] | None) -> str:
        typed = variables.normalize(raw)
        if not typed:
            return ""
        text = orjson.dumps(typed).decode()
        if len(text) > self.settings.max_variables_bytes:
            raise InvalidArgument(
                f"variables take {len(text)} bytes, more than the limit of "
                f"{self.settings.max_variables_bytes} (REDTASK_MAX_VARIABLES_BYTES)"
            )
        return text

    @staticmethod
    def _int(name: str, value: Any, low: int = LONG_MIN, high: int = LONG_MAX) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgument(f"{name} must be an integer")
        if not low <= value <= high:
            raise InvalidArgument(f"{name} is out of range [{low}, {high}]")
        return value

    @staticmethod
    def _worker(worker_id: Any) -> str:
        if not isinstance(worker_id, str):
            raise InvalidArgument("workerId is null")
        return worker_id

    def _prefix_of(self, task_id: str) -> str:
        return self.keys.prefix(self.keys.partition_of(task_id))

    def _wake(self) -> str:
        return self.keys.wake_channel

    async def _call(self, name: str, prefix: str, *args: Any) -> list[Any]:
        reply: list[Any] = await self._scripts[name](keys=[prefix], args=args)
        return reply

    def new_task_id(self) -> str:
        return str(uuid.uuid4())

    # ------------------------------------------------------------------ transitions
    async def publish(self, task: NewTask) -> str:
        """Create a standalone task; returns its id. Raises InvalidArgument, DuplicateTask."""
        return (await self.publish_many([task]))[0]

    async def publish_many(self, tasks: Sequence[NewTask]) -> list[str]:
        """Create tasks atomically per partition (all of a partition or none)."""
        by_partition: dict[int, list[str]] = {}
        ids = []
        for task in tasks:
            task_id = task.id or self.new_task_id()
            meta = {
                "id": task_id,
                "topic": self._topic(task.topic),
                "priority": str(self._int("priority", task.priority)),
                "retries": None
                if task.retries is None
                else str(self._int("retries", task.retries, 1, 2**31 - 1)),
                "businessKey": task.business_key,
                "tenantId": task.tenant_id,
            }
            part = by_partition.setdefault(self.keys.partition_of(task_id), [])
            part += [orjson.dumps(meta).decode(), self._vars_json(task.variables)]
            ids.append(task_id)
        now = self.clock()
        for partition, args in by_partition.items():
            reply = await self._call("publish", self.keys.prefix(partition), now, self._wake(), *args)
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
        worker_id = self._worker(worker_id)
        self._int("maxTasks", max_tasks, 0)
        unique = {self._topic(t.topic_name): t for t in topics}  # a later duplicate wins
        for t in unique.values():
            if self._int("lockDuration", t.lock_duration) <= 0:
                raise InvalidArgument("lockTime is not greater than 0")
        if max_tasks == 0 or not unique:
            return []
        if use_priority:
            order = "prio_desc" if sort_create_time == "desc" else "prio"
        else:
            order = {None: "prio", "asc": "ct_asc", "desc": "ct_desc"}[sort_create_time]
        spec = orjson.dumps(
            [
                {"topic": name, "lock": str(t.lock_duration), "f": _lua_filters(t)}
                for name, t in unique.items()
            ]
        ).decode()
        start = next(self._rotation)
        locked: list[ExternalTask] = []
        for i in range(self.keys.partitions):
            prefix = self.keys.prefix((start + i) % self.keys.partitions)
            reply = await self._call(
                "fetch_and_lock", prefix, self.clock(), worker_id, max_tasks - len(locked), order,
                self.settings.fetch_scan_budget, self.settings.reclaim_batch, spec,
            )  # fmt: skip
            raise_for(reply)
            for task_id, flat in zip(reply[2::2], reply[3::2], strict=True):
                task = task_from_hash(task_id, pairs_to_dict(flat))
                locked.append(_select_variables(task, unique[task.topic_name]))
            if len(locked) >= max_tasks:
                break
        return locked

    async def lock(self, task_id: str, worker_id: str, lock_duration: int) -> int:
        """Lock one task by id; returns the new lock token. Raises TaskNotFound, WorkerMismatch."""
        worker_id = self._worker(worker_id)
        self._int("lockDuration", lock_duration)
        reply = await self._call(
            "lock", self._prefix_of(task_id), self.clock(), task_id, worker_id, lock_duration
        )
        raise_for(reply, task_id=task_id, worker_id=worker_id)
        return int(reply[1])

    def _complete_args(self, c: Completion) -> list[Any]:
        return [
            self.clock(), c.task_id, self._worker(c.worker_id), _token(c.lock_token),
            self._vars_json(c.variables), self._vars_json(c.local_variables),
            self.settings.finished_log_length,
        ]  # fmt: skip

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
        c = Completion(task_id, worker_id, variables, local_variables, lock_token)
        reply = await self._call("complete", self._prefix_of(task_id), *self._complete_args(c))
        raise_for(reply, task_id=task_id, worker_id=worker_id, token=lock_token or 0)

    async def complete_many(self, items: Sequence[Completion]) -> list[Exception | None]:
        """Complete several tasks in one round trip; one result (None or the error) per item."""
        calls = [(self._prefix_of(c.task_id), self._complete_args(c)) for c in items]
        async with self.redis.pipeline(transaction=False) as pipe:
            for prefix, args in calls:
                await self._scripts["complete"](keys=[prefix], args=args, client=pipe)
            replies = await pipe.execute(raise_on_error=False)
        results: list[Exception | None] = []
        for c, reply in zip(items, replies, strict=True):
            try:
                if isinstance(reply, Exception):
                    raise reply
                raise_for(reply, task_id=c.task_id, worker_id=c.worker_id, token=c.lock_token or 0)
                results.append(None)
            except Exception as exc:  # returned, not raised: one bad item must not hide others
                results.append(exc)
        return results

    async def handle_failure(
        self,
        task_id: str,
        worker_id: str,
        error_message: str | None,
        error_details: str | None,
        retries: int,
        retry_timeout: int,
        *,
        lock_token: int | None = None,
    ) -> TaskState:
        """Report a failure; returns the task's new state (AVAILABLE, RETRY or INCIDENT)."""
        worker_id = self._worker(worker_id)
        if self._int("retries", retries) < 0:
            raise InvalidArgument("retries is not greater than or equal to 0")
        if self._int("retryTimeout", retry_timeout) < 0:
            raise InvalidArgument("retryDuration is not greater than or equal to 0")
        now = self.clock()
        reply = await self._call(
            "handle_failure", self._prefix_of(task_id), now, task_id, worker_id,
            _token(lock_token), (error_message or "")[:MAX_ERROR_MESSAGE],
            "0" if error_details is None else "1", error_details or "", retries, retry_timeout,
            self._wake(), self.new_task_id(),
        )  # fmt: skip
        raise_for(reply, task_id=task_id, worker_id=worker_id, token=lock_token or 0, now_ms=now)
        return TaskState(reply[1])

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
        worker_id = self._worker(worker_id)
        if not isinstance(error_code, str) or not error_code:
            raise InvalidArgument("errorCode is null")
        reply = await self._call(
            "handle_bpmn_error", self._prefix_of(task_id), self.clock(), task_id, worker_id,
            _token(lock_token), error_code, error_message or "", self._vars_json(variables),
            self.settings.finished_log_length,
        )  # fmt: skip
        raise_for(reply, task_id=task_id, worker_id=worker_id, token=lock_token or 0)

    async def extend_lock(
        self, task_id: str, worker_id: str, new_duration: int, *, lock_token: int | None = None
    ) -> None:
        """Set the lock to expire at now + new_duration. Raises LockExpired, WorkerMismatch, ..."""
        if self._int("newDuration", new_duration) <= 0:
            raise InvalidArgument("lockTime is not greater than 0")
        worker_id = self._worker(worker_id)
        now = self.clock()
        reply = await self._call(
            "extend_lock", self._prefix_of(task_id), now, task_id, worker_id,
            _token(lock_token), new_duration,
        )  # fmt: skip
        raise_for(reply, task_id=task_id, worker_id=worker_id, token=lock_token or 0, now_ms=now)

    async def unlock(self, task_id: str) -> None:
        """Release the lock; the task becomes fetchable. Raises TaskNotFound."""
        reply = await self._call("unlock", self._prefix_of(task_id), self.clock(), task_id, self._wake())
        raise_for(reply, task_id=task_id)

    async def set_retries(self, task_id: str, retries: int) -> None:
        await self.set_retries_many([task_id], retries)

    async def set_retries_many(self, task_ids: Iterable[str], retries: int) -> int:
        """Set retries of many tasks (0 opens incidents, > 0 resolves them).

        Every id is checked before any write; an unknown id raises TaskNotFound. Atomic per
        partition: a task deleted concurrently aborts only its own partition's update.
        """
        if self._int("retries", retries) < 0:
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
                "set_retries", self.keys.prefix(partition), self.clock(), retries, self._wake(),
                *pairs,
            )  # fmt: skip
            raise_for(reply)
            updated += int(reply[1])
        return updated

    async def set_priority(self, task_id: str, priority: int) -> None:
        self._int("priority", priority)
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

    # ------------------------------------------------------------------ reads
    async def get(self, task_id: str) -> ExternalTask:
        """The task record. Raises TaskNotFound."""
        fields = await self.redis.hgetall(self.keys.task(task_id))
        if not fields:
            raise TaskNotFound(task_id)
        return task_from_hash(task_id, fields)

    async def error_details(self, task_id: str) -> str | None:
        """The last failure's details (None if none). Raises TaskNotFound."""
        key = self.keys.task(task_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(key)
            pipe.hget(key, "ed")
            exists, details = await pipe.execute()
        if not exists:
            raise TaskNotFound(task_id)
        return details  # type: ignore[no-any-return]

    async def _scan_tasks(self) -> list[ExternalTask]:
        """Every task, via SCAN (a task present for the whole scan is seen; duplicates dropped)."""
        seen: dict[str, ExternalTask] = {}
        for partition in range(self.keys.partitions):
            pattern = self.keys.task_pattern(partition)
            cut = len(pattern) - 1
            batch: list[str] = []
            async for key in self.redis.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 500:
                    await self._load_into(seen, batch, cut)
                    batch = []
            await self._load_into(seen, batch, cut)
        return list(seen.values())

    async def _load_into(self, seen: dict[str, ExternalTask], keys: list[str], cut: int) -> None:
        if not keys:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hgetall(key)
            rows = await pipe.execute()
        for key, row in zip(keys, rows, strict=True):
            if row:  # deleted between SCAN and HGETALL
                seen[key[cut:]] = task_from_hash(key[cut:], row)

    async def query(
        self,
        query: TaskQuery,
        sorting: Sequence[tuple[str, str]] = (),
        first_result: int | None = None,
        max_results: int | None = None,
    ) -> list[ExternalTask]:
        now = self.clock()
        hits = [t for t in await self._scan_tasks() if query.matches(t, now)]
        return sort_and_page(hits, sorting, first_result, max_results)

    async def count(self, query: TaskQuery) -> int:
        now = self.clock()
        return sum(1 for t in await self._scan_tasks() if query.matches(t, now))

    async def topic_stats(self) -> list[TopicStats]:
        """Available / locked / retrying / incident counts per topic, summed over partitions."""
        totals: dict[str, list[int]] = {}
        for partition in range(self.keys.partitions):
            topics = sorted(await self.redis.smembers(self.keys.topics(partition)))
            async with self.redis.pipeline(transaction=False) as pipe:
                for topic in topics:
                    pipe.zrange(self.keys.avail_levels(partition, topic), 0, -1)
                    pipe.zcard(self.keys.locked(partition, topic))
                    pipe.zcard(self.keys.retry(partition, topic))
                    pipe.scard(self.keys.incident_tasks(partition, topic))
                rows = await pipe.execute()
            levels_of = {t: rows[4 * n] for n, t in enumerate(topics)}
            async with self.redis.pipeline(transaction=False) as pipe:
                for topic in topics:
                    for level in levels_of[topic]:
                        pipe.zcard(self.keys.avail(partition, topic, int(level)))
                avail_counts = iter(await pipe.execute())
            for n, topic in enumerate(topics):
                avail = sum(next(avail_counts) for _ in levels_of[topic])
                row = totals.setdefault(topic, [0, 0, 0, 0])
                for i, value in enumerate((avail, *rows[4 * n + 1 : 4 * n + 4])):
                    row[i] += int(value)
        return [TopicStats(t, *v) for t, v in sorted(totals.items()) if any(v)]

    async def topic_names(
        self,
        with_locked_tasks: bool = False,
        with_unlocked_tasks: bool = False,
        with_retries_left: bool = False,
    ) -> list[str]:
        """Distinct topics of existing tasks, filtered like GET /external-task/topic-names."""
        if with_locked_tasks and with_unlocked_tasks:
            return []
        query = TaskQuery(
            locked=with_locked_tasks,
            not_locked=with_unlocked_tasks,
            with_retries_left=with_retries_left,
        )
        if query == TaskQuery():
            return [s.topic_name for s in await self.topic_stats()]
        return sorted({t.topic_name for t in await self.query(query)})

    async def incidents(self) -> list[Incident]:
        """Open incidents of every partition, oldest first."""
        out: list[Incident] = []
        for partition in range(self.keys.partitions):
            ids = await self.redis.zrange(self.keys.incidents(partition), 0, -1)
            async with self.redis.pipeline(transaction=False) as pipe:
                for incident_id in ids:
                    pipe.hgetall(self.keys.incident(partition, incident_id))
                rows = await pipe.execute()
            out += [incident_from_hash(row) for row in rows if row]
        return sorted(out, key=lambda i: (i.incident_timestamp, i.id))

    async def finished(self, count: int = 100) -> list[dict[str, str]]:
        """The most recent entries of the finished-task log (complete / bpmn_error), newest first."""
        out: list[tuple[str, dict[str, str]]] = []
        for partition in range(self.keys.partitions):
            out += await self.redis.xrevrange(self.keys.done(partition), count=count)
        out.sort(key=lambda e: tuple(int(x) for x in e[0].split("-")), reverse=True)
        return [fields for _, fields in out[:count]]


def _token(lock_token: int | None) -> str:
    return "" if lock_token is None else str(lock_token)


def _like_to_lua(pattern: str) -> str:
    """SQL LIKE pattern -> anchored Lua pattern (for processDefinitionVersionTag)."""
    out = []
    for ch in pattern:
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        elif ch in "^$()%.[]*+-?":
            out.append("%" + ch)
        else:
            out.append(ch)
    return "^" + "".join(out) + "$"


def _intersect(one: str | None, many: Sequence[str] | None) -> list[str] | None:
    if one is None and many is None:
        return None
    if one is None:
        return list(many or ())
    return [one] if many is None or one in many else []


def _lua_filters(t: TopicRequest) -> dict[str, Any] | None:
    f: dict[str, Any] = {}
    if t.business_key is not None:
        f["bk"] = t.business_key
    pd = _intersect(t.process_definition_id, t.process_definition_id_in)
    if pd is not None:
        f["pd"] = pd
    pk = _intersect(t.process_definition_key, t.process_definition_key_in)
    if pk is not None:
        f["pk"] = pk
    if t.process_definition_version_tag is not None:
        f["vt"] = _like_to_lua(t.process_definition_version_tag)
    if t.tenant_id_in is not None:
        f["tin"] = list(t.tenant_id_in)
    elif t.without_tenant_id:
        f["wt"] = True
    if t.process_variables:
        f["pv"] = dict(t.process_variables)
    return f or None


def _select_variables(task: ExternalTask, request: TopicRequest) -> ExternalTask:
    """Apply the topic's ``variables`` selection (None = all, [] = none)."""
    wanted = request.variables
    visible = {} if wanted is not None and not wanted else task.variables
    if wanted:
        visible = {k: v for k, v in task.variables.items() if k in wanted}
    ext = task.extension_properties if request.include_extension_properties else {}
    return replace(task, variables=visible, extension_properties=ext)
