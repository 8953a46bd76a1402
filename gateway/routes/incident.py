"""The Camunda 7 ``/incident`` resource (IncidentRestServiceImpl): the open incidents, which in
redtask are all ``failedExternalTask`` incidents of external tasks (see ``convert.incident``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from redtask.broker.instance_reads import INCIDENT_SORT
from redtask.gateway import convert
from redtask.gateway.deps import StoreDep, TimezoneDep
from redtask.gateway.dto.incident import IncidentQueryDto
from redtask.gateway.errors import invalid_request
from redtask.gateway.query import read_paging, read_query, read_sorting
from redtask.gateway.responses import JSONBody

router = APIRouter(prefix="/incident", tags=["Incident"])


@router.get("")
async def get_incidents(request: Request, store: StoreDep, tz: TimezoneDep) -> Response:
    params = request.query_params
    query = read_query(params, IncidentQueryDto).to_query()
    sorting = read_sorting(params, INCIDENT_SORT)
    first, maximum = read_paging(params)
    found = await store.query_incidents(query, sorting, first, maximum)
    return JSONBody([convert.incident(i, tz) for i in found])


@router.get("/count")
async def count_incidents(request: Request, store: StoreDep) -> dict[str, int]:
    query = read_query(request.query_params, IncidentQueryDto).to_query()
    return {"count": len(await store.query_incidents(query))}


@router.get("/{id}")
async def get_incident(id: str, store: StoreDep, tz: TimezoneDep) -> Response:
    found = await store.get_incident(id)
    if found is None:
        raise invalid_request(f"No matching incident with id {id}", 404)
    return JSONBody(convert.incident(found, tz))
