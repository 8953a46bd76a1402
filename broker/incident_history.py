"""Historic incidents (Camunda's HistoricIncidentQuery): the open incidents, of every type, and
the closed incidents of the running and kept process instances, which the scripts that resolve
or delete an incident keep in the instance's ``hi:`` hash (``incident_archive`` in ``_lib.lua``)
for as long as the instance is kept. A closed incident of a standalone task is not kept."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson

from redtask.broker import paging
from redtask.broker.history import HistoricInstance, History, HistoryQuery, between
from redtask.broker.instance_reads import IncidentQuery, InstanceReads
from redtask.broker.keys import Keys
from redtask.broker.model import Incident, incident_from_hash
from redtask.broker.query import compare
from redtask.broker.redis_layer import RedisLayer


@dataclass(frozen=True, slots=True)
class HistoricIncident:
    """``state``: open, resolved or deleted; ``end`` None while open; ``instance`` None for a
    standalone task's incident."""

    incident: Incident
    state: str
    end: int | None
    instance: HistoricInstance | None

    @property
    def id(self) -> str:
        return self.incident.id


@dataclass(frozen=True, slots=True)
class HistoricIncidentQuery:
    """HistoricIncidentQueryDto's filters (dates epoch ms, inclusive); ``states``: every state
    asked for (two different ones match nothing); ``never``: a filter nothing matches."""

    incident_id: str | None = None
    incident_type: str | None = None
    incident_message: str | None = None
    incident_message_like: str | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    process_definition_key_in: tuple[str, ...] | None = None
    process_instance_id: str | None = None
    execution_id: str | None = None
    activity_id: str | None = None
    failed_activity_id: str | None = None
    cause_incident_id: str | None = None
    root_cause_incident_id: str | None = None
    configuration: str | None = None
    states: frozenset[str] = frozenset()
    tenant_id_in: tuple[str, ...] | None = None
    without_tenant_id: bool = False
    create_time_before: int | None = None
    create_time_after: int | None = None
    end_time_before: int | None = None
    end_time_after: int | None = None
    never: bool = False

    def matches(self, h: HistoricIncident) -> bool:
        i = h.incident
        key = None if h.instance is None else h.instance.definition_key
        failed = i.activity_id if i.incident_type == "failedJob" else None
        equal = (
            (self.incident_id, i.id),
            (self.incident_type, i.incident_type),
            (self.incident_message, i.incident_message),
            (self.process_definition_id, i.process_definition_id),
            (self.process_definition_key, key),
            (self.process_instance_id, i.process_instance_id),
            (self.execution_id, i.execution_id),
            (self.activity_id, i.activity_id),
            (self.failed_activity_id, failed),
            (self.cause_incident_id, i.id),  # each incident is its own cause
            (self.root_cause_incident_id, i.id),
            (self.configuration, i.configuration),
        )
        if self.never or any(want is not None and want != have for want, have in equal):
            return False
        like = self.incident_message_like
        if like is not None and not compare(i.incident_message, "like", like):
            return False
        within = ((key, self.process_definition_key_in), (i.tenant_id, self.tenant_id_in))
        if any(allowed is not None and value not in allowed for value, allowed in within):
            return False
        if self.without_tenant_id and i.tenant_id is not None:
            return False
        return (
            all(state == h.state for state in self.states)
            and between(i.incident_timestamp, self.create_time_after, self.create_time_before)
            and between(h.end, self.end_time_after, self.end_time_before)
        )


HISTORIC_INCIDENT_SORT: dict[str, Callable[[HistoricIncident], Any]] = {
    "incidentId": lambda h: h.incident.id,
    "incidentMessage": lambda h: h.incident.incident_message,
    "createTime": lambda h: h.incident.incident_timestamp,
    "endTime": lambda h: h.end,
    "incidentType": lambda h: h.incident.incident_type,
    "executionId": lambda h: h.incident.execution_id,
    "activityId": lambda h: h.incident.activity_id,
    "processInstanceId": lambda h: h.incident.process_instance_id,
    "processDefinitionId": lambda h: h.incident.process_definition_id,
    "causeIncidentId": lambda h: h.incident.id,
    "rootCauseIncidentId": lambda h: h.incident.id,
    "configuration": lambda h: h.incident.configuration,
    "tenantId": lambda h: h.incident.tenant_id,
    # Camunda's incident state codes: open 0, resolved 1, deleted 2
    "incidentState": lambda h: ("open", "resolved", "deleted").index(h.state),
}


class IncidentHistory:
    def __init__(self, db: RedisLayer, keys: Keys, history: History, reads: InstanceReads) -> None:
        self.db = db
        self.keys = keys
        self.history = history
        self.reads = reads

    async def query(
        self,
        query: HistoricIncidentQuery,
        sorting: Sequence[tuple[str, str]] = (),
        first_result: int | None = None,
        max_results: int | None = None,
    ) -> list[HistoricIncident]:
        """The historic incidents ``query`` matches, sorted (ties by id) and paged."""
        if query.never:
            return []
        kept = await self.history.query_history(
            HistoryQuery(process_instance_id=query.process_instance_id)
        )
        by_id = {i.id: i for i in kept}
        found: list[HistoricIncident] = []
        if "resolved" not in query.states and "deleted" not in query.states:
            open_incidents = await self.reads.query_incidents(
                IncidentQuery(process_instance_id=query.process_instance_id)
            )
            found += [
                HistoricIncident(i, "open", None, by_id.get(i.process_instance_id or ""))
                for i in open_incidents
            ]
        if "open" not in query.states and kept:
            replies = await self.db.execute_many(
                ("HVALS", self.keys.incident_history(i.id)) for i in kept
            )
            for instance, values in zip(kept, replies, strict=True):
                for raw in cast(list[str], values):
                    record = orjson.loads(raw)
                    end = record.pop("end")
                    how = record.pop("how")
                    strings = {k: str(v) for k, v in record.items()}
                    found.append(HistoricIncident(incident_from_hash(strings), how, end, instance))
        hits = [h for h in found if query.matches(h)]
        return paging.sort_and_page(
            hits, HISTORIC_INCIDENT_SORT, sorting, first_result, max_results, tie_break=paging.by_id
        )
