"""The Camunda 7 ``/history/activity-instance`` resource (HistoricActivityInstanceRestService):
every activity a running or kept process instance passed. GET and POST queries (+ count),
``GET {id}``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from redtask.broker.activity_reads import ACTIVITY_SORT
from redtask.gateway import convert
from redtask.gateway.deps import SettingsDep, StoreDep, TimezoneDep
from redtask.gateway.dto.history_activity import HistoricActivityInstanceQueryDto
from redtask.gateway.errors import invalid_request
from redtask.gateway.query import body_sorting, read_paging, read_query, read_sorting
from redtask.gateway.responses import JSONBody

router = APIRouter(prefix="/history/activity-instance", tags=["Historic Activity Instance"])


@router.get("")
async def get_activity_instances(
    request: Request, store: StoreDep, settings: SettingsDep, tz: TimezoneDep
) -> Response:
    params = request.query_params
    query = read_query(params, HistoricActivityInstanceQueryDto).to_query()
    sorting = read_sorting(params, ACTIVITY_SORT)
    first, maximum = read_paging(params)
    found = await store.query_historic_activities(query, sorting, first, maximum)
    ttl = settings.history_ttl_s
    return JSONBody([convert.historic_activity_instance(a, tz, ttl) for a in found])


@router.post("")
async def query_activity_instances(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    tz: TimezoneDep,
    dto: HistoricActivityInstanceQueryDto | None = None,
) -> Response:
    dto = dto or HistoricActivityInstanceQueryDto()
    sorting = body_sorting(dto.sorting, ACTIVITY_SORT)
    first, maximum = read_paging(request.query_params)
    found = await store.query_historic_activities(dto.to_query(), sorting, first, maximum)
    ttl = settings.history_ttl_s
    return JSONBody([convert.historic_activity_instance(a, tz, ttl) for a in found])


@router.get("/count")
async def count_activity_instances(request: Request, store: StoreDep) -> dict[str, int]:
    query = read_query(request.query_params, HistoricActivityInstanceQueryDto).to_query()
    return {"count": len(await store.query_historic_activities(query))}


@router.post("/count")
async def count_activity_instances_post(
    store: StoreDep, dto: HistoricActivityInstanceQueryDto | None = None
) -> dict[str, int]:
    query = (dto or HistoricActivityInstanceQueryDto()).to_query()
    return {"count": len(await store.query_historic_activities(query))}


@router.get("/{id}")
async def get_activity_instance(
    id: str, store: StoreDep, settings: SettingsDep, tz: TimezoneDep
) -> Response:
    found = await store.get_historic_activity(id)
    if found is None:
        raise invalid_request(f"Historic activity instance with id {id} does not exist", 404)
    return JSONBody(convert.historic_activity_instance(found, tz, settings.history_ttl_s))
