"""Reads of external tasks: a task, the task query and count, topic statistics, incidents and
the finished-task log. Single commands or pipelines through the Redis layer, no scripts.

Counts whose filters the per-topic indexes answer (topic, locked, retries left or not) read
only those indexes; a query or count naming a topic or task ids reads only those tasks (see
``topic_index``). Other queries must see every task and use SCAN over the task hashes: a task
present for the whole scan is seen at least once (duplicates are dropped).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, cast

from redtask.broker.errors import TaskNotFound
from redtask.broker.instance_repository import InstanceRepository
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
from redtask.broker.redis_layer import RedisLayer
from redtask.broker.store_base import Clock
from redtask.broker.topic_index import TopicIndex, countable, narrows_to_candidates

DefinitionNames = Callable[[Iterable[str]], Awaitable[Mapping[str, str | None]]]


class TaskReads:
    """``names`` gives the names of process definitions by id (for the name filters)."""

    def __init__(
        self,
        db: RedisLayer,
        keys: Keys,
        clock: Clock,
        instances: InstanceRepository,
        names: DefinitionNames,
    ) -> None:
        self.db = db
        self.keys = keys
        self.clock = clock
        self.instances = instances
        self.names = names
        self.index = TopicIndex(db, keys)

    async def get(self, task_id: str) -> ExternalTask:
        """The task record. Raises TaskNotFound."""
        fields = cast(dict[str, str], await self.db.execute("HGETALL", self.keys.task(task_id)))
        if not fields:
            raise TaskNotFound(task_id)
        return task_from_hash(task_id, fields)

    async def error_details(self, task_id: str) -> str | None:
        """The last failure's details (None if none). Raises TaskNotFound."""
        key = self.keys.task(task_id)
        exists, details = await self.db.execute_many([("EXISTS", key), ("HGET", key, "ed")])
        if not exists:
            raise TaskNotFound(task_id)
        return cast(str | None, details)

    async def _scan_tasks(self) -> list[ExternalTask]:
        """Every task, via SCAN (a task present for the whole scan is seen; duplicates dropped)."""
        seen: dict[str, ExternalTask] = {}
        for partition in range(self.keys.partitions):
            pattern = self.keys.task_pattern(partition)
            cut = len(pattern) - 1
            batch: list[str] = []
            async for key in self.db.scan(pattern, 1000, self.keys.prefix(partition)):
                batch.append(key)
                if len(batch) >= 500:
                    await self._load_into(seen, batch, cut)
                    batch = []
            await self._load_into(seen, batch, cut)
        return list(seen.values())

    async def _load_ids(self, task_ids: Sequence[str]) -> list[ExternalTask]:
        """The tasks of ``task_ids`` that exist, in batches of one round trip each."""
        out: list[ExternalTask] = []
        for start in range(0, len(task_ids), 500):
            batch = task_ids[start : start + 500]
            rows = await self.db.execute_many(("HGETALL", self.keys.task(i)) for i in batch)
            out += [task_from_hash(i, row) for i, row in zip(batch, rows, strict=True) if row]
        return out

    async def _load_into(self, seen: dict[str, ExternalTask], keys: list[str], cut: int) -> None:
        if not keys:
            return
        rows = await self.db.execute_many(("HGETALL", key) for key in keys)
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
        if countable(query):
            return await self.index.count(query, self.clock())
        return len(await self._matching(query))

    async def select_ids(
        self,
        task_ids: Iterable[str] = (),
        process_instance_ids: Iterable[str] = (),
        query: TaskQuery | None = None,
    ) -> list[str]:
        """The tasks an operation on many tasks applies to (Camunda's
        ``UpdateExternalTaskRetriesBuilder``): the given ids, then the tasks of the given
        process instances, then the tasks ``query`` matches; each id once, in that order.
        Given ids are not checked to exist."""
        selected = list(task_ids)
        instances = tuple(process_instance_ids)
        if instances:
            by_instance = TaskQuery(process_instance_id_in=instances)
            selected += [t.id for t in await self.query(by_instance)]
        if query is not None:
            selected += [t.id for t in await self.query(query)]
        return list(dict.fromkeys(selected))

    async def _matching(self, query: TaskQuery) -> list[ExternalTask]:
        now = self.clock()
        if narrows_to_candidates(query):
            tasks = await self._load_ids(await self.index.candidate_ids(query))
        else:
            tasks = await self._scan_tasks()
        if query.process_variables:
            tasks = await self._with_instance_variables(tasks)
        names = NO_NAMES
        if query.by_definition_name:  # one MGET of the few definitions the tasks belong to
            wanted = {t.process_definition_id for t in tasks if t.process_definition_id}
            names = await self.names(wanted)
        return [t for t in tasks if query.matches(t, now, names)]

    async def _with_instance_variables(self, tasks: list[ExternalTask]) -> list[ExternalTask]:
        """Process tasks with the process-level variables of their instance, which conditions on
        process variables look at (a standalone task is its own process instance)."""
        instance_ids = sorted({t.process_instance_id for t in tasks if t.process_instance_id})
        states = await self.instances.states(instance_ids)
        by_instance = {i: dict(state.variables) for i, state in states.items()}
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
            members = await self.db.execute("SMEMBERS", self.keys.topics(partition))
            topics = sorted(cast(set[str], members))
            commands: list[tuple[Any, ...]] = []
            for topic in topics:
                commands.append(("ZRANGE", self.keys.avail_levels(partition, topic), 0, -1))
                commands.append(("ZCARD", self.keys.locked(partition, topic)))
                commands.append(("ZCARD", self.keys.retry(partition, topic)))
                commands.append(("SCARD", self.keys.incident_tasks(partition, topic)))
            rows = await self.db.execute_many(commands) if commands else []
            levels_of = {t: rows[4 * n] for n, t in enumerate(topics)}
            counts = [
                ("ZCARD", self.keys.avail(partition, topic, int(level)))
                for topic in topics
                for level in levels_of[topic]
            ]
            avail_counts = iter(await self.db.execute_many(counts) if counts else [])
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
            ids = await self.db.execute("ZRANGE", self.keys.incidents(partition), 0, -1)
            rows = await self.db.execute_many(
                ("HGETALL", self.keys.incident(partition, incident_id)) for incident_id in ids
            )
            out += [incident_from_hash(row) for row in rows if row]
        return sorted(out, key=lambda i: (i.incident_timestamp, i.id))

    async def finished(self, count: int = 100) -> list[dict[str, str]]:
        """Latest entries of the finished-task log (complete / bpmn_error), newest first."""
        out: list[tuple[str, dict[str, str]]] = []
        for partition in range(self.keys.partitions):
            entries = await self.db.execute(
                "XREVRANGE", self.keys.done(partition), "+", "-", "COUNT", count
            )
            out += cast(list[tuple[str, dict[str, str]]], entries)
        out.sort(key=lambda e: tuple(int(x) for x in e[0].split("-")), reverse=True)
        return [fields for _, fields in out[:count]]
