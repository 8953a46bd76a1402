"""Read queries of the store: single commands or pipelines, no scripts needed.

``StoreReads`` is mixed into ``broker.store.Store``; together they are the store layer, the
only code that talks to Redis. Queries that must see every task use SCAN over the task hashes:
a task present for the whole scan is seen at least once (duplicates are dropped).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import cast

import orjson
import redis.asyncio as aioredis

from redtask.broker.definitions import Definitions
from redtask.broker.errors import TaskNotFound
from redtask.broker.keys import Keys
from redtask.broker.model import (
    ExternalTask,
    Incident,
    TopicStats,
    incident_from_hash,
    task_from_hash,
)
from redtask.broker.paging import sort_and_page
from redtask.broker.query import NO_NAMES, SORT_FIELDS, TaskQuery


class StoreReads:
    redis: aioredis.Redis
    keys: Keys
    clock: Callable[[], int]

    async def get(self, task_id: str) -> ExternalTask:
        """The task record. Raises TaskNotFound."""
        fields = cast(dict[str, str], await self.redis.hgetall(self.keys.task(task_id)))
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
        hits = await self._matching(query)
        return sort_and_page(hits, SORT_FIELDS, sorting, first_result, max_results)

    async def count(self, query: TaskQuery) -> int:
        return len(await self._matching(query))

    async def _matching(self, query: TaskQuery) -> list[ExternalTask]:
        now = self.clock()
        tasks = await self._scan_tasks()
        if query.process_variables:
            tasks = await self._with_instance_variables(tasks)
        names = NO_NAMES
        if query.by_definition_name:  # one MGET of the few definitions the tasks belong to
            wanted = {t.process_definition_id for t in tasks if t.process_definition_id}
            names = await Definitions(self.redis, self.keys).names(wanted)
        return [t for t in tasks if query.matches(t, now, names)]

    async def _with_instance_variables(self, tasks: list[ExternalTask]) -> list[ExternalTask]:
        """Process tasks with the process-level variables of their instance, which conditions on
        process variables look at (a standalone task is its own process instance)."""
        instance_ids = sorted({t.process_instance_id for t in tasks if t.process_instance_id})
        async with self.redis.pipeline(transaction=False) as pipe:
            for instance_id in instance_ids:
                pipe.hget(self.keys.instance(instance_id), "st")
            raws = await pipe.execute()
        by_instance = {
            i: orjson.loads(raw)["variables"]
            for i, raw in zip(instance_ids, raws, strict=True)
            if raw is not None
        }
        return [
            replace(t, variables=by_instance.get(t.process_instance_id, {}))
            if t.process_instance_id
            else t
            for t in tasks
        ]

    async def topic_stats(self) -> list[TopicStats]:
        """Available / locked / retrying / incident counts per topic, summed over partitions."""
        totals: dict[str, list[int]] = {}
        for partition in range(self.keys.partitions):
            topics = sorted(cast(set[str], await self.redis.smembers(self.keys.topics(partition))))
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
            ids = cast(list[str], await self.redis.zrange(self.keys.incidents(partition), 0, -1))
            async with self.redis.pipeline(transaction=False) as pipe:
                for incident_id in ids:
                    pipe.hgetall(self.keys.incident(partition, incident_id))
                rows = await pipe.execute()
            out += [incident_from_hash(row) for row in rows if row]
        return sorted(out, key=lambda i: (i.incident_timestamp, i.id))

    async def finished(self, count: int = 100) -> list[dict[str, str]]:
        """Latest entries of the finished-task log (complete / bpmn_error), newest first."""
        out: list[tuple[str, dict[str, str]]] = []
        for partition in range(self.keys.partitions):
            entries = await self.redis.xrevrange(self.keys.done(partition), count=count)
            out += cast(list[tuple[str, dict[str, str]]], entries)
        out.sort(key=lambda e: tuple(int(x) for x in e[0].split("-")), reverse=True)
        return [fields for _, fields in out[:count]]
