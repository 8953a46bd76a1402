"""The Camunda 7 ``/history/external-task-log`` resource (HistoricExternalTaskLogRestService):
every external task of a running or kept process instance, created, failed, succeeded or
deleted. GET and POST queries (+ count), ``GET {id}``, ``GET {id}/error-details``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from redtask.broker.activity_reads import LOG_SORT
from redtask.gateway import convert
from redtask.gateway.deps import SettingsDep, StoreDep, TimezoneDep
from redtask.gateway.dto.history_activity import HistoricExternalTaskLogQueryDto
from redtask.gateway.errors import invalid_request
from redtask.gateway.query import body_sorting, read_paging, read_query, read_sorting
from redtask.gateway.responses import JSONBody

router = APIRouter(prefix="/history/external-task-log", tags=["Historic External Task Log"])


@router.get("")
async def get_task_logs(
    request: Request, store: StoreDep, settings: SettingsDep, tz: TimezoneDep
) -> Response:
    params = request.query_params
    query = read_query(params, HistoricExternalTaskLogQueryDto).to_query()
    sorting = read_sorting(params, LOG_SORT)
    first, maximum = read_paging(params)
    found = await store.query_task_log(query, sorting, first, maximum)
    return JSONBody([convert.historic_task_log(x, tz, settings.history_ttl_s) for x in found])


@router.post("")
async def query_task_logs(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    tz: TimezoneDep,
    dto: HistoricExternalTaskLogQueryDto | None = None,
) -> Response:
    dto = dto or HistoricExternalTaskLogQueryDto()
    sorting = body_sorting(dto.sorting, LOG_SORT)
    first, maximum = read_paging(request.query_params)
    found = await store.query_task_log(dto.to_query(), sorting, first, maximum)
    return JSONBody([convert.historic_task_log(x, tz, settings.history_ttl_s) for x in found])


@router.get("/count")
async def count_task_logs(request: Request, store: StoreDep) -> dict[str, int]:
    query = read_query(request.query_params, HistoricExternalTaskLogQueryDto).to_query()
    return {"count": len(await store.query_task_log(query))}


@router.post("/count")
async def count_task_logs_post(
    store: StoreDep, dto: HistoricExternalTaskLogQueryDto | None = None
) -> dict[str, int]:
    query = (dto or HistoricExternalTaskLogQueryDto()).to_query()
    return {"count": len(await store.query_task_log(query))}


@router.get("/{id}")
async def get_task_log(
    id: str, store: StoreDep, settings: SettingsDep, tz: TimezoneDep
) -> Response:
    found = await store.get_task_log_entry(id)
    if found is None:
        raise invalid_request(f"Historic external task log with id {id} does not exist", 404)
    return JSONBody(convert.historic_task_log(found, tz, settings.history_ttl_s))


@router.get("/{id}/error-details")
async def get_error_details(id: str, store: StoreDep) -> Response:
    """The failure's error details as text/plain; an entry without any answers 204 (Camunda's
    null String)."""
    exists, details = await store.task_log_error_details(id)
    if not exists:
        message = (
            f"No historic external task log found with id {id}: historicExternalTaskLog is null"
        )
        raise invalid_request(message, 404)
    if details is None:
        return Response(status_code=204)
    return Response(details, media_type="text/plain")
