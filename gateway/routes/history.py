"""The Camunda 7 ``/history/process-instance`` resource (HistoricProcessInstanceRestServiceImpl):
running instances and
the ended ones redtask keeps for ``settings.history_ttl_s``. GET and POST queries (+ count)."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from fastapi import APIRouter, Request, Response

from redtask.broker.definitions import Definitions
from redtask.broker.history_records import HISTORIC_RECORD_SORT, HistoricRecord
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from redtask.gateway import convert
from redtask.gateway.deps import DefinitionsDep, SettingsDep, StoreDep, TimezoneDep
from redtask.gateway.dto.history import HistoricProcessInstanceQueryDto
from redtask.gateway.errors import invalid_request
from redtask.gateway.query import body_sorting, read_paging, read_query, read_sorting
from redtask.gateway.responses import JSONBody

router = APIRouter(prefix="/history/process-instance", tags=["Historic Process Instance"])


def _dtos(found: list[HistoricRecord], settings: Settings, tz: tzinfo) -> list[dict[str, Any]]:
    """HistoricProcessInstanceDtos. ``deleteReason`` stays null: a completed instance has none,
    and Camunda's DELETE /process-instance/{id} deletes without a reason."""
    out = []
    for record in found:
        body = convert.historic_process_instance(
            record.instance, tz, settings.history_ttl_s, record.definition
        )
        body["startActivityId"] = record.start_activity_id
        body["endActivityId"] = record.instance.end_activity_id
        out.append(body)
    return out


async def _answer(
    request: Request,
    store: Store,
    definitions: Definitions,
    settings: Settings,
    tz: tzinfo,
    dto: HistoricProcessInstanceQueryDto,
    sorting: list[tuple[str, str]],
) -> Response:
    first, maximum = read_paging(request.query_params)
    query = await dto.to_query(definitions)
    found = await store.query_historic_records(query, sorting, first, maximum)
    return JSONBody(_dtos(found, settings, tz))


@router.get("")
async def get_historic_instances(
    request: Request,
    store: StoreDep,
    definitions: DefinitionsDep,
    settings: SettingsDep,
    tz: TimezoneDep,
) -> Response:
    params = request.query_params
    dto = read_query(params, HistoricProcessInstanceQueryDto)
    sorting = read_sorting(params, HISTORIC_RECORD_SORT)
    return await _answer(request, store, definitions, settings, tz, dto, sorting)


@router.post("")
async def query_historic_instances(
    request: Request,
    store: StoreDep,
    definitions: DefinitionsDep,
    settings: SettingsDep,
    tz: TimezoneDep,
    dto: HistoricProcessInstanceQueryDto | None = None,
) -> Response:
    dto = dto or HistoricProcessInstanceQueryDto()
    sorting = body_sorting(dto.sorting, HISTORIC_RECORD_SORT)
    return await _answer(request, store, definitions, settings, tz, dto, sorting)


@router.get("/count")
async def count_historic_instances(
    request: Request, store: StoreDep, definitions: DefinitionsDep
) -> dict[str, int]:
    dto = read_query(request.query_params, HistoricProcessInstanceQueryDto)
    query = await dto.to_query(definitions)
    return {"count": len(await store.query_history(query))}


@router.post("/count")
async def count_historic_instances_post(
    store: StoreDep, definitions: DefinitionsDep, dto: HistoricProcessInstanceQueryDto | None = None
) -> dict[str, int]:
    query = await (dto or HistoricProcessInstanceQueryDto()).to_query(definitions)
    return {"count": len(await store.query_history(query))}


@router.get("/{id}")
async def get_historic_instance(
    id: str, store: StoreDep, settings: SettingsDep, tz: TimezoneDep
) -> Response:
    found = await store.get_historic_record(id)
    if found is None:
        raise invalid_request(f"Historic process instance with id {id} does not exist", 404)
    [body] = _dtos([found], settings, tz)
    return JSONBody(body)
