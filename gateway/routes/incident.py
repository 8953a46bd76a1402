"""The Camunda 7 ``/incident`` resource (reference §4.7): the open incidents, which in redtask
are all ``failedExternalTask`` incidents (field values as §6.5 describes)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.datastructures import QueryParams

from redtask.broker.instance_reads import INCIDENT_SORT, IncidentQuery
from redtask.gateway import convert
from redtask.gateway.deps import StoreDep, TimezoneDep
from redtask.gateway.dto import Dto
from redtask.gateway.errors import invalid_request
from redtask.gateway.params import paging
from redtask.gateway.responses import JSONBody

router = APIRouter(prefix="/incident", tags=["Incident"])


class IncidentQueryDto(Dto):
    incident_id: str | None = None
    incident_type: str | None = None
    incident_message: str | None = None
    incident_message_like: str | None = None
    process_definition_id: str | None = None
    process_definition_key_in: list[str] | None = None
    process_instance_id: str | None = None
    execution_id: str | None = None
    incident_timestamp_before: str | None = None
    incident_timestamp_after: str | None = None
    activity_id: str | None = None
    failed_activity_id: str | None = None
    cause_incident_id: str | None = None
    root_cause_incident_id: str | None = None
    configuration: str | None = None
    tenant_id_in: list[str] | None = None
    job_definition_id_in: list[str] | None = None


_NAMES = {f.alias or n for n, f in IncidentQueryDto.model_fields.items()}
_LISTS = {"processDefinitionKeyIn", "tenantIdIn", "jobDefinitionIdIn"}


def _query(params: QueryParams) -> IncidentQuery:
    fields = convert.query_fields(params, _NAMES, _LISTS, ())
    dto = IncidentQueryDto.model_validate(fields)
    return IncidentQuery(
        incident_id=dto.incident_id,
        incident_type=dto.incident_type,
        incident_message=dto.incident_message,
        incident_message_like=dto.incident_message_like,
        process_definition_id=dto.process_definition_id,
        process_definition_key_in=convert.id_tuple(dto.process_definition_key_in),
        process_instance_id=dto.process_instance_id,
        execution_id=dto.execution_id,
        activity_id=dto.activity_id,
        cause_incident_id=dto.cause_incident_id,
        root_cause_incident_id=dto.root_cause_incident_id,
        configuration=dto.configuration,
        tenant_id_in=convert.id_tuple(dto.tenant_id_in),
        timestamp_after=convert.date_param("incidentTimestampAfter", dto.incident_timestamp_after),
        timestamp_before=convert.date_param(
            "incidentTimestampBefore", dto.incident_timestamp_before
        ),
        # external-task incidents have no failed activity and no job definition
        never=dto.failed_activity_id is not None or bool(dto.job_definition_id_in),
    )


@router.get("")
async def get_incidents(request: Request, store: StoreDep, tz: TimezoneDep) -> Response:
    params = request.query_params
    query = _query(params)
    sorting = convert.sorting(params, None, INCIDENT_SORT)
    first, maximum = paging(request)
    found = await store.query_incidents(query, sorting, first, maximum)
    return JSONBody([convert.incident(i, tz) for i in found])


@router.get("/count")
async def count_incidents(request: Request, store: StoreDep) -> dict[str, int]:
    return {"count": len(await store.query_incidents(_query(request.query_params)))}


@router.get("/{id}")
async def get_incident(id: str, store: StoreDep, tz: TimezoneDep) -> Response:
    found = await store.get_incident(id)
    if found is None:
        raise invalid_request(f"No matching incident with id {id}", 404)
    return JSONBody(convert.incident(found, tz))
