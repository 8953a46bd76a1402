"""Historic activity instances and the external-task log (Camunda's
HistoricActivityInstanceQuery and HistoricExternalTaskLogQuery): the records ``advance`` and the
task scripts keep beside each process instance (``broker.activity_history``), for as long as the
instance itself is kept.

A query reads the records of the instances it can name (a ``processInstanceId`` filter: one
instance), else of every running and kept instance, one pipelined round trip for all; filters,
sorting (nulls last, ties by id, as Camunda's ``order by RES.ID_``) and paging happen in Python.
A lookup by id asks every kept instance whether it holds the id (one HEXISTS each, pipelined),
then reads that one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from redtask.broker import paging
from redtask.broker.activity_history import (
    DETAILS_SUFFIX,
    ActivityRecord,
    TaskLogEntry,
    activity_records,
    task_log_entries,
)
from redtask.broker.definition_model import DefinitionNotFound
from redtask.broker.definition_reads import DefinitionReads
from redtask.broker.history import HistoricInstance, History, HistoryQuery, between
from redtask.broker.keys import Keys
from redtask.broker.redis_layer import RedisLayer


@dataclass(frozen=True, slots=True)
class HistoricActivity:
    record: ActivityRecord
    instance: HistoricInstance
    activity_name: str | None

    @property
    def id(self) -> str:
        return self.record.id


@dataclass(frozen=True, slots=True)
class TaskLog:
    entry: TaskLogEntry
    instance: HistoricInstance

    @property
    def id(self) -> str:
        return self.entry.id


@dataclass(frozen=True, slots=True)
class ActivityQuery:
    """HistoricActivityInstanceQueryDto's filters (dates epoch ms, inclusive). ``never``: a
    filter nothing matches (``taskAssignee``: redtask has no user tasks)."""

    activity_instance_id: str | None = None
    process_instance_id: str | None = None
    process_definition_id: str | None = None
    execution_id: str | None = None
    activity_id: str | None = None
    activity_name: str | None = None
    activity_type: str | None = None
    finished: bool = False
    unfinished: bool = False
    complete_scope: bool = False
    canceled: bool = False
    started_before: int | None = None
    started_after: int | None = None
    finished_before: int | None = None
    finished_after: int | None = None
    tenant_id_in: tuple[str, ...] | None = None
    without_tenant_id: bool = False
    never: bool = False

    def matches(self, a: HistoricActivity) -> bool:
        r = a.record
        equal = (
            (self.activity_instance_id, r.id),
            (self.execution_id, r.execution_id),
            (self.activity_id, r.activity_id),
            (self.activity_name, a.activity_name),
            (self.activity_type, r.activity_type),
        )
        if self.never or any(want is not None and want != have for want, have in equal):
            return False
        if (self.finished and r.end is None) or (self.unfinished and r.end is not None):
            return False
        if (self.complete_scope and not r.complete_scope) or (self.canceled and not r.canceled):
            return False
        return between(r.start, self.started_after, self.started_before) and between(
            r.end, self.finished_after, self.finished_before
        )

    def instances(self) -> HistoryQuery:
        return HistoryQuery(
            process_instance_id=self.process_instance_id,
            process_definition_id=self.process_definition_id,
            tenant_id_in=self.tenant_id_in,
            without_tenant_id=self.without_tenant_id,
        )


ACTIVITY_SORT: dict[str, Callable[[HistoricActivity], Any]] = {
    "activityInstanceId": lambda a: a.record.id,
    "instanceId": lambda a: a.instance.id,
    "executionId": lambda a: a.record.execution_id,
    "activityId": lambda a: a.record.activity_id,
    "activityName": lambda a: a.activity_name,
    "activityType": lambda a: a.record.activity_type,
    "startTime": lambda a: a.record.start,
    "endTime": lambda a: a.record.end,
    "duration": lambda a: a.record.duration,
    "definitionId": lambda a: a.instance.definition_id,
    "occurrence": lambda a: a.record.occurrence,
    "tenantId": lambda a: a.instance.tenant_id,
}

LOG_KINDS = {"c": "creationLog", "f": "failureLog", "s": "successLog", "d": "deletionLog"}


@dataclass(frozen=True, slots=True)
class TaskLogQuery:
    """HistoricExternalTaskLogQueryDto's filters; ``kinds``: the entry kinds asked for (every
    one given must hold, so two different kinds match nothing)."""

    log_id: str | None = None
    task_id: str | None = None
    topic_name: str | None = None
    worker_id: str | None = None
    error_message: str | None = None
    activity_id_in: tuple[str, ...] | None = None
    activity_instance_id_in: tuple[str, ...] | None = None
    execution_id_in: tuple[str, ...] | None = None
    process_instance_id: str | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    priority_higher_than_or_equals: int | None = None
    priority_lower_than_or_equals: int | None = None
    tenant_id_in: tuple[str, ...] | None = None
    kinds: frozenset[str] = frozenset()

    def matches(self, log: TaskLog) -> bool:
        e = log.entry
        equal = (
            (self.log_id, e.id),
            (self.task_id, e.task_id),
            (self.topic_name, e.topic),
            (self.worker_id, e.worker_id),
            (self.error_message, e.error_message),
        )
        if any(want is not None and want != have for want, have in equal):
            return False
        within = (
            (e.activity_id, self.activity_id_in),
            (e.activity_instance_id, self.activity_instance_id_in),
            (e.execution_id, self.execution_id_in),
        )
        if any(allowed is not None and value not in allowed for value, allowed in within):
            return False
        low, high = self.priority_higher_than_or_equals, self.priority_lower_than_or_equals
        if (low is not None and e.priority < low) or (high is not None and e.priority > high):
            return False
        return all(kind == e.kind for kind in self.kinds)

    def instances(self) -> HistoryQuery:
        return HistoryQuery(
            process_instance_id=self.process_instance_id,
            process_definition_id=self.process_definition_id,
            process_definition_key=self.process_definition_key,
            tenant_id_in=self.tenant_id_in,
        )


LOG_SORT: dict[str, Callable[[TaskLog], Any]] = {
    "timestamp": lambda x: x.entry.timestamp,
    "taskId": lambda x: x.entry.task_id,
    "retries": lambda x: x.entry.retries,
    "priority": lambda x: x.entry.priority,
    "topicName": lambda x: x.entry.topic,
    "workerId": lambda x: x.entry.worker_id,
    "activityId": lambda x: x.entry.activity_id,
    "activityInstanceId": lambda x: x.entry.activity_instance_id,
    "executionId": lambda x: x.entry.execution_id,
    "processInstanceId": lambda x: x.instance.id,
    "processDefinitionId": lambda x: x.instance.definition_id,
    "processDefinitionKey": lambda x: x.instance.definition_key,
    "tenantId": lambda x: x.instance.tenant_id,
}


class ActivityReads:
    def __init__(
        self, db: RedisLayer, keys: Keys, history: History, definitions: DefinitionReads
    ) -> None:
        self.db = db
        self.keys = keys
        self.history = history
        self.definitions = definitions

    async def activities(
        self,
        query: ActivityQuery,
        sorting: Sequence[tuple[str, str]] = (),
        first_result: int | None = None,
        max_results: int | None = None,
    ) -> list[HistoricActivity]:
        """The historic activity instances ``query`` matches, sorted and paged."""
        if query.never:
            return []
        instances = await self.history.query_history(query.instances())
        hashes = await self._hashes(self.keys.activities, instances)
        names = await self._names(i.definition_id for i in instances)
        found = [
            HistoricActivity(r, i, names[i.definition_id](r.activity_id))
            for i, fields in zip(instances, hashes, strict=True)
            for r in activity_records(i.id, fields)
        ]
        hits = [a for a in found if query.matches(a)]
        return paging.sort_and_page(
            hits, ACTIVITY_SORT, sorting, first_result, max_results, tie_break=paging.by_id
        )

    async def activity(self, activity_instance_id: str) -> HistoricActivity | None:
        """One historic activity instance; None when no kept instance has it."""
        instance = await self._holder(self.keys.activities, activity_instance_id)
        if instance is None:
            return None
        query = ActivityQuery(
            activity_instance_id=activity_instance_id, process_instance_id=instance
        )
        found = await self.activities(query)
        return found[0] if found else None

    async def task_log(
        self,
        query: TaskLogQuery,
        sorting: Sequence[tuple[str, str]] = (),
        first_result: int | None = None,
        max_results: int | None = None,
    ) -> list[TaskLog]:
        """The external-task log entries ``query`` matches, sorted and paged."""
        instances = await self.history.query_history(query.instances())
        hashes = await self._hashes(self.keys.task_log, instances)
        found = [
            TaskLog(e, i)
            for i, fields in zip(instances, hashes, strict=True)
            for e in task_log_entries(i.id, fields)
        ]
        hits = [x for x in found if query.matches(x)]
        return paging.sort_and_page(
            hits, LOG_SORT, sorting, first_result, max_results, tie_break=paging.by_id
        )

    async def task_log_entry(self, log_id: str) -> TaskLog | None:
        instance = await self._holder(self.keys.task_log, log_id)
        if instance is None:
            return None
        found = await self.task_log(TaskLogQuery(log_id=log_id, process_instance_id=instance))
        return found[0] if found else None

    async def error_details(self, log_id: str) -> tuple[bool, str | None]:
        """(whether the entry exists, its error details)."""
        instance = await self._holder(self.keys.task_log, log_id)
        if instance is None:
            return False, None
        details = await self.db.execute(
            "HGET", self.keys.task_log(instance), log_id + DETAILS_SUFFIX
        )
        return True, None if details is None else str(details)

    async def _hashes(
        self, key: Callable[[str], str], instances: Sequence[HistoricInstance]
    ) -> list[dict[str, str]]:
        if not instances:
            return []
        replies = await self.db.execute_many(("HGETALL", key(i.id)) for i in instances)
        return [cast(dict[str, str], r) for r in replies]

    async def _holder(self, key: Callable[[str], str], field: str) -> str | None:
        """The kept instance whose hash ``key(instance)`` has ``field``."""
        ids = [i.id for i in await self.history.query_history(HistoryQuery())]
        if not ids:
            return None
        found = await self.db.execute_many(("HEXISTS", key(i), field) for i in ids)
        return next((i for i, hit in zip(ids, found, strict=True) if int(hit)), None)

    async def _names(self, definition_ids: Iterable[str]) -> dict[str, Callable[[str], str | None]]:
        """Per definition: activity id -> its name (None when the definition is gone)."""

        async def one(definition_id: str) -> Callable[[str], str | None]:
            try:
                model = await self.definitions.get_model(definition_id)
            except DefinitionNotFound:
                return lambda _: None
            return lambda a: getattr(model.elements.get(a), "name", None)

        ids = list(dict.fromkeys(definition_ids))
        return dict(zip(ids, await asyncio.gather(*map(one, ids)), strict=True))
