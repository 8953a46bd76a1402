"""The Camunda 7 ``/history/process-instance`` resource (HistoricProcessInstanceRestServiceImpl):
running instances and
the ended ones redtask keeps for ``settings.history_ttl_s``. GET and POST queries (+ count)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import tzinfo
from typing import Any

from fastapi import APIRouter, Request, Response

from redtask.broker.definition_model import DefinitionNotFound, ProcessDefinition
from redtask.broker.definitions import Definitions
from redtask.broker.history import HISTORY_SORT, HistoricInstance
from redtask.broker.instance_reads import sort_and_page
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from redtask.gateway import convert
from redtask.gateway.deps import DefinitionsDep, SettingsDep, StoreDep, TimezoneDep
from redtask.gateway.dto.history import HistoricProcessInstanceQueryDto
from redtask.gateway.errors import invalid_request
from redtask.gateway.query import body_sorting, read_paging, read_query, read_sorting
from redtask.gateway.responses import JSONBody

router = APIRouter(prefix="/history/process-instance", tags=["Historic Process Instance"])
ByDefinition = dict[str, ProcessDefinition | None]
SORT_FIELDS = {*HISTORY_SORT, "definitionName", "definitionVersion"}


async def _definitions(definitions: Definitions, found: list[HistoricInstance]) -> ByDefinition:
    """The deployed definition of each instance (None when it is not deployed)."""

    async def one(definition_id: str) -> ProcessDefinition | None:
        try:
            return await definitions.definition(definition_id)
        except DefinitionNotFound:
            return None

    ids = list(dict.fromkeys(i.definition_id for i in found))
    return dict(zip(ids, await asyncio.gather(*map(one, ids)), strict=True))


async def _start_events(definitions: Definitions, found: ByDefinition) -> dict[str, str | None]:
    """The none start event of each deployed definition: where its instances started."""

    async def one(definition_id: str) -> str | None:
        try:
            return (await definitions.get_model(definition_id)).start_event().id
        except DefinitionNotFound:
            return None

    ids = [i for i, d in found.items() if d is not None]
    starts = dict(zip(ids, await asyncio.gather(*map(one, ids)), strict=True))
    return {i: starts.get(i) for i in found}


def _sort_fields(by_definition: ByDefinition) -> dict[str, Callable[[HistoricInstance], Any]]:
    """HISTORY_SORT, plus the fields read from each instance's deployed definition."""

    def name(i: HistoricInstance) -> str | None:
        definition = by_definition.get(i.definition_id)
        return None if definition is None else definition.name

    def version(i: HistoricInstance) -> int | None:
        definition = by_definition.get(i.definition_id)
        return None if definition is None else definition.version

    return {**HISTORY_SORT, "definitionName": name, "definitionVersion": version}


async def _dtos(
    found: list[HistoricInstance],
    definitions: Definitions,
    settings: Settings,
    tz: tzinfo,
    by_definition: ByDefinition | None = None,
) -> list[dict[str, Any]]:
    """HistoricProcessInstanceDtos. ``deleteReason`` stays null: a completed instance has none,
    and Camunda's DELETE /process-instance/{id} deletes without a reason."""
    if by_definition is None:
        by_definition = await _definitions(definitions, found)
    starts = await _start_events(definitions, by_definition)
    out = []
    for item in found:
        definition = by_definition[item.definition_id]
        body = convert.historic_process_instance(item, tz, settings.history_ttl_s, definition)
        body["startActivityId"] = starts[item.definition_id]
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
    found = await store.query_history(await dto.to_query(definitions))
    by_definition: ByDefinition = {}
    if any(name in ("definitionName", "definitionVersion") for name, _ in sorting):
        by_definition = await _definitions(definitions, found)
    page = sort_and_page(found, _sort_fields(by_definition), sorting, first, maximum)
    return JSONBody(await _dtos(page, definitions, settings, tz, by_definition or None))


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
    sorting = read_sorting(params, SORT_FIELDS)
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
    sorting = body_sorting(dto.sorting, SORT_FIELDS)
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
    id: str, store: StoreDep, definitions: DefinitionsDep, settings: SettingsDep, tz: TimezoneDep
) -> Response:
    found = await store.get_historic_instance(id)
    if found is None:
        raise invalid_request(f"Historic process instance with id {id} does not exist", 404)
    [body] = await _dtos([found], definitions, settings, tz)
    return JSONBody(body)
