"""Reads of process instances and incidents for the REST queries (Camunda's
ProcessInstanceQueryDto and IncidentQueryDto).

No query SCANs: ``pis`` lists each partition's running instances, ``incs`` its open incidents.
Queries filter, sort (nulls last, ties by id: Camunda's default order) and page in Python.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from redtask.broker import engine, paging
from redtask.broker.errors import InstanceNotFound
from redtask.broker.instance_repository import InstanceRepository
from redtask.broker.keys import Keys
from redtask.broker.model import Incident, incident_from_hash
from redtask.broker.paging import HasId, by_id
from redtask.broker.query import VariableCondition, compare
from redtask.broker.redis_layer import RedisLayer

_META = ("status", "pd", "pk", "bk", "tn")


@dataclass(frozen=True, slots=True)
class ProcessInstance:
    """A running process instance: its meta fields (the engine state is read only if needed)."""

    id: str
    definition_id: str
    definition_key: str | None
    business_key: str | None
    tenant_id: str | None


T = TypeVar("T", bound=HasId)
INSTANCE_SORT: dict[str, Callable[[ProcessInstance], Any]] = {
    "instanceId": lambda i: i.id,
    "definitionKey": lambda i: i.definition_key,
    "definitionId": lambda i: i.definition_id,
    "tenantId": lambda i: i.tenant_id,
    "businessKey": lambda i: i.business_key,
}
INCIDENT_SORT: dict[str, Callable[[Incident], Any]] = {
    "incidentId": lambda i: i.id,
    "incidentMessage": lambda i: i.incident_message,
    "incidentTimestamp": lambda i: i.incident_timestamp,
    "incidentType": lambda i: i.incident_type,
    "executionId": lambda i: i.execution_id,
    "activityId": lambda i: i.activity_id,
    "processInstanceId": lambda i: i.process_instance_id,
    "processDefinitionId": lambda i: i.process_definition_id,
    "causeIncidentId": lambda i: i.id,  # an external-task incident is its own cause
    "rootCauseIncidentId": lambda i: i.id,
    "configuration": lambda i: i.configuration,
    "tenantId": lambda i: i.tenant_id,
}


@dataclass(frozen=True, slots=True)
class IncidentQuery:
    """Camunda's IncidentQueryDto filters; timestamps are epoch ms, compared strictly.
    ``never`` stands for a filter no external-task incident matches (failedActivityId,
    jobDefinitionIdIn)."""

    incident_id: str | None = None
    incident_id_in: tuple[str, ...] | None = None
    incident_type: str | None = None
    incident_message: str | None = None
    incident_message_like: str | None = None
    process_definition_id: str | None = None
    process_definition_key_in: tuple[str, ...] | None = None
    process_instance_id: str | None = None
    execution_id: str | None = None
    activity_id: str | None = None
    cause_incident_id: str | None = None
    root_cause_incident_id: str | None = None
    configuration: str | None = None
    tenant_id_in: tuple[str, ...] | None = None
    timestamp_after: int | None = None
    timestamp_before: int | None = None
    never: bool = False

    def matches(self, i: Incident, definition_key: str | None = None) -> bool:
        equal = (
            (self.incident_id, i.id),
            (self.incident_type, i.incident_type),
            (self.incident_message, i.incident_message),
            (self.process_definition_id, i.process_definition_id),
            (self.process_instance_id, i.process_instance_id),
            (self.execution_id, i.execution_id),
            (self.activity_id, i.activity_id),
            (self.cause_incident_id, i.id),
            (self.root_cause_incident_id, i.id),
            (self.configuration, i.configuration),
        )
        if any(want is not None and want != have for want, have in equal):
            return False
        like = self.incident_message_like
        after, before = self.timestamp_after, self.timestamp_before
        return (
            not self.never
            and (like is None or compare(i.incident_message, "like", like))
            and _within(i.id, self.incident_id_in)
            and _within(definition_key, self.process_definition_key_in)
            and _within(i.tenant_id, self.tenant_id_in)
            and (after is None or i.incident_timestamp > after)
            and (before is None or i.incident_timestamp < before)
        )


@dataclass(frozen=True, slots=True)
class InstanceQuery:
    """Camunda's ProcessInstanceQueryDto filters for redtask's instances (no suspension).
    ``never``: a filter no instance matches; ``incident``: one it must have;
    ``process_definition_id_in``: the definitions of a deployment (``deploymentId``);
    ``super_process_instance`` / ``sub_process_instance``: the instance that called it / one it
    called; ``root`` / ``leaf``: called by none / calling none."""

    process_instance_ids: tuple[str, ...] | None = None
    business_key: str | None = None
    business_key_like: str | None = None
    process_definition_id: str | None = None
    process_definition_id_in: tuple[str, ...] | None = None
    process_definition_key: str | None = None
    process_definition_key_in: tuple[str, ...] | None = None
    process_definition_key_not_in: tuple[str, ...] | None = None
    tenant_id_in: tuple[str, ...] | None = None
    without_tenant_id: bool = False
    suspended: bool = False
    incident: IncidentQuery | None = None
    activity_id_in: tuple[str, ...] | None = None
    variables: tuple[VariableCondition, ...] = ()
    variable_names_ignore_case: bool = False
    variable_values_ignore_case: bool = False
    never: bool = False
    super_process_instance: str | None = None
    sub_process_instance: str | None = None
    root: bool = False
    leaf: bool = False

    @property
    def needs_state(self) -> bool:
        return bool(
            self.activity_id_in
            or self.variables
            or self.super_process_instance is not None
            or self.sub_process_instance is not None
            or self.root
            or self.leaf
        )

    def matches(self, i: ProcessInstance) -> bool:
        pairs = (
            (self.business_key, i.business_key),
            (self.process_definition_id, i.definition_id),
            (self.process_definition_key, i.definition_key),
        )
        like = self.business_key_like
        return (
            not self.never
            and not self.suspended
            and all(want is None or want == have for want, have in pairs)
            and (like is None or compare(i.business_key, "like", like))
            and _within(i.id, self.process_instance_ids)
            and _within(i.definition_id, self.process_definition_id_in)
            and _within(i.definition_key, self.process_definition_key_in)
            and i.definition_key not in (self.process_definition_key_not_in or ())
            and (
                i.tenant_id is None
                if self.without_tenant_id
                else _within(i.tenant_id, self.tenant_id_in)
            )
        )

    def matches_state(self, state: engine.InstanceState) -> bool:
        link = state.call
        called = {e.wait.ref for e in state.executions if e.wait and e.wait.kind == "call"}
        if self.super_process_instance is not None and (
            link is None or link.super_instance_id != self.super_process_instance
        ):
            return False
        if self.sub_process_instance is not None and self.sub_process_instance not in called:
            return False
        if (self.root and link is not None) or (self.leaf and called):
            return False
        if self.activity_id_in is not None:
            waiting = {e.element_id for e in state.executions if e.wait is not None}
            if not waiting & set(self.activity_id_in):
                return False
        return all(self._variable_matches(state.variables, c) for c in self.variables)

    def _variable_matches(self, values: Mapping[str, Any], cond: VariableCondition) -> bool:
        fold: Callable[[str], str] = str.lower if self.variable_names_ignore_case else str
        typed = next((v for k, v in values.items() if fold(k) == fold(cond.name)), None)
        ignore_case = self.variable_values_ignore_case
        return typed is not None and compare(typed["value"], cond.operator, cond.value, ignore_case)


def _within(value: str | None, allowed: tuple[str, ...] | None) -> bool:
    return allowed is None or value in allowed


def sort_and_page(
    items: Iterable[T],
    fields: Mapping[str, Callable[[T], Any]],
    sorting: Sequence[tuple[str, str]] = (),
    first_result: int | None = None,
    max_results: int | None = None,
) -> list[T]:
    """``paging.sort_and_page`` with ties by id, the order of Camunda's instance queries."""
    return paging.sort_and_page(items, fields, sorting, first_result, max_results, tie_break=by_id)


def _instance(instance_id: str, row: Sequence[str | None]) -> ProcessInstance | None:
    status, pd, pk, bk, tn = row
    if status != "active":  # gone, or ended and kept only for history
        return None
    return ProcessInstance(instance_id, pd or "", pk, bk, tn)


class InstanceReads:
    def __init__(self, db: RedisLayer, keys: Keys, instances: InstanceRepository) -> None:
        self.db = db
        self.keys = keys
        self.instances = instances

    async def get_instance(self, instance_id: str) -> ProcessInstance:
        """A running instance. Raises InstanceNotFound (also for an ended one)."""
        row = await self.db.execute("HMGET", self.keys.instance(instance_id), *_META)
        found = _instance(instance_id, cast(list[str | None], row))
        if found is None:
            raise InstanceNotFound(instance_id)
        return found

    async def members(self, key: Callable[[int], str]) -> list[list[str]]:
        """The members of one ZSET per partition (``key`` names it)."""
        commands = (("ZRANGE", key(p), 0, -1) for p in range(self.keys.partitions))
        return cast(list[list[str]], await self.db.execute_many(commands))

    async def _instances(self, query: InstanceQuery) -> list[ProcessInstance]:
        if query.never or query.suspended:
            return []
        ids = query.process_instance_ids
        if ids is None:
            ids = tuple(i for members in await self.members(self.keys.instances) for i in members)
        ids = tuple(dict.fromkeys(ids))
        rows = await self.db.execute_many(("HMGET", self.keys.instance(i), *_META) for i in ids)
        found = [_instance(i, row) for i, row in zip(ids, rows, strict=True)]
        hits = [i for i in found if i is not None and query.matches(i)]
        if query.incident is not None:
            incidents = await self.matching_incidents(query.incident)
            with_incident = {i.process_instance_id for i in incidents}
            hits = [i for i in hits if i.id in with_incident]
        if query.needs_state and hits:
            states = await self.instances.states(i.id for i in hits)
            hits = [i for i in hits if i.id in states and query.matches_state(states[i.id])]
        return hits

    async def query_instances(
        self,
        query: InstanceQuery = InstanceQuery(),  # frozen: one shared default is safe
        sorting: Sequence[tuple[str, str]] = (),
        first_result: int | None = None,
        max_results: int | None = None,
    ) -> list[ProcessInstance]:
        hits = await self._instances(query)
        return sort_and_page(hits, INSTANCE_SORT, sorting, first_result, max_results)

    async def matching_incidents(self, query: IncidentQuery) -> list[Incident]:
        """Open incidents of every partition that match ``query``."""
        if query.never:
            return []
        per_partition = await self.members(self.keys.incidents)
        rows = await self.db.execute_many(
            ("HGETALL", self.keys.incident(partition, incident_id))
            for partition, ids in enumerate(per_partition)
            for incident_id in ids
        )
        found = [row for row in rows if row]
        incidents = [incident_from_hash(row) for row in found]
        keys: list[str | None] = [row.get("pk") for row in found]  # a timer's incident has it
        if query.process_definition_key_in is not None and incidents:
            # an external task's incident does not copy the definition key: read its task's
            task_keys = await self.db.execute_many(
                ("HGET", self.keys.task(i.configuration), "pk")
                for i in incidents
                if i.incident_type == "failedExternalTask"
            )
            pending = iter(task_keys)
            keys = [
                next(pending) if i.incident_type == "failedExternalTask" else key
                for i, key in zip(incidents, keys, strict=True)
            ]
        return [i for i, key in zip(incidents, keys, strict=True) if query.matches(i, key)]

    async def query_incidents(
        self,
        query: IncidentQuery,
        sorting: Sequence[tuple[str, str]] = (),
        first_result: int | None = None,
        max_results: int | None = None,
    ) -> list[Incident]:
        hits = await self.matching_incidents(query)
        return sort_and_page(hits, INCIDENT_SORT, sorting, first_result, max_results)

    async def get_incident(self, incident_id: str) -> Incident | None:
        """An open incident by id (it lives in its task's partition: every one is asked)."""
        rows = await self.db.execute_many(
            ("HGETALL", self.keys.incident(p, incident_id)) for p in range(self.keys.partitions)
        )
        return next((incident_from_hash(row) for row in rows if row), None)


INSTANCE_BATCH = 200


async def running_instances_of(
    db: RedisLayer,
    keys: Keys,
    definition_ids: Collection[str],
    batch: int = INSTANCE_BATCH,
) -> AsyncIterator[list[tuple[str, str]]]:
    """(instance id, definition id) of the running instances of these definitions, read
    ``batch`` members of one partition's ``pis`` at a time (bounded work per Redis call).

    Paging is by rank, so an instance started or ended during the walk may be missed: a caller
    that must see every one walks again until a walk finds none.
    """
    wanted = set(definition_ids)
    for partition in range(keys.partitions):
        start = 0
        while True:
            end = start + batch - 1
            ids = cast(list[str], await db.execute("ZRANGE", keys.instances(partition), start, end))
            if not ids:
                break
            rows = await db.execute_many(
                ("HMGET", keys.instance(instance_id), "status", "pd") for instance_id in ids
            )
            hits = [
                (instance_id, pd)
                for instance_id, (status, pd) in zip(ids, rows, strict=True)
                if status == "active" and pd in wanted
            ]
            if hits:
                yield hits
            if len(ids) < batch:
                break
            start += batch
