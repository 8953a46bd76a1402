"""The Camunda 7 ``/history/incident`` resource (HistoricIncidentRestService): open incidents
and the closed ones of running and kept instances (see ``broker.incident_history``). GET query
and count."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from fastapi import APIRouter, Request, Response

from redtask.broker import dates
from redtask.broker.incident_history import HISTORIC_INCIDENT_SORT, HistoricIncident
from redtask.gateway.deps import SettingsDep, StoreDep, TimezoneDep
from redtask.gateway.dto.history_incident import HistoricIncidentQueryDto
from redtask.gateway.query import read_paging, read_query, read_sorting
from redtask.gateway.responses import JSONBody

router = APIRouter(prefix="/history/incident", tags=["Historic Incident"])


def _dto(h: HistoricIncident, tz: tzinfo, ttl_s: int) -> dict[str, Any]:
    """HistoricIncidentDto: each incident its own cause and root cause, no job definition; a
    failedJob incident names its timer's event in ``failedActivityId``, as Camunda does."""
    i, instance = h.incident, h.instance
    ended = None if instance is None else instance.end
    return {
        "id": i.id,
        "processDefinitionKey": None if instance is None else instance.definition_key,
        "processDefinitionId": i.process_definition_id,
        "processInstanceId": i.process_instance_id,
        "executionId": i.execution_id,
        "rootProcessInstanceId": i.process_instance_id,
        "createTime": dates.format_ms(i.incident_timestamp, tz),
        "endTime": dates.format_ms(h.end, tz),
        "removalTime": dates.format_ms(None if ended is None else ended + ttl_s * 1000, tz),
        "incidentType": i.incident_type,
        "activityId": i.activity_id,
        "failedActivityId": i.activity_id if i.incident_type == "failedJob" else None,
        "causeIncidentId": i.id,
        "rootCauseIncidentId": i.id,
        "configuration": i.configuration,
        "historyConfiguration": None,
        "incidentMessage": i.incident_message,
        "tenantId": i.tenant_id,
        "jobDefinitionId": None,
        "open": h.state == "open",
        "deleted": h.state == "deleted",
        "resolved": h.state == "resolved",
        "annotation": None,
    }


@router.get("")
async def get_incidents(
    request: Request, store: StoreDep, settings: SettingsDep, tz: TimezoneDep
) -> Response:
    params = request.query_params
    query = read_query(params, HistoricIncidentQueryDto).to_query()
    sorting = read_sorting(params, HISTORIC_INCIDENT_SORT)
    first, maximum = read_paging(params)
    found = await store.query_historic_incidents(query, sorting, first, maximum)
    return JSONBody([_dto(h, tz, settings.history_ttl_s) for h in found])


@router.get("/count")
async def count_incidents(request: Request, store: StoreDep) -> dict[str, int]:
    query = read_query(request.query_params, HistoricIncidentQueryDto).to_query()
    return {"count": len(await store.query_historic_incidents(query))}
