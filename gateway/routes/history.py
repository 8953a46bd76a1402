"""The Camunda 7 ``/history/process-instance`` resource (reference §4.9): running instances and
the ended ones redtask keeps for ``settings.history_ttl_s`` (GET only, no POST query)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from starlette.datastructures import QueryParams

from broker.definition_model import DefinitionNotFound, ProcessDefinition
from broker.definitions import Definitions
from broker.history import HISTORY_SORT, HistoricInstance, HistoryQuery
from gateway import convert
from gateway.deps import DefinitionsDep, SettingsDep, StoreDep, TimezoneDep
from gateway.dto import Dto
from gateway.errors import invalid_request
from gateway.params import paging
from gateway.responses import JSONBody

router = APIRouter(prefix="/history/process-instance", tags=["Historic Process Instance"])


class HistoricProcessInstanceQueryDto(Dto):
    process_instance_id: str | None = None
    process_instance_ids: list[str] | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    process_instance_business_key: str | None = None
    finished: bool = False
    unfinished: bool = False
    active: bool = False
    suspended: bool = False
    completed: bool = False
    externally_terminated: bool = False
    internally_terminated: bool = False
    tenant_id_in: list[str] | None = None
    started_before: str | None = None
    started_after: str | None = None
    finished_before: str | None = None
    finished_after: str | None = None


_NAMES = {f.alias or n for n, f in HistoricProcessInstanceQueryDto.model_fields.items()}
_LISTS = {"processInstanceIds", "tenantIdIn"}
_BOOLS = {
    "finished",
    "unfinished",
    "active",
    "suspended",
    "completed",
    "externallyTerminated",
    "internallyTerminated",
}


def _query(params: QueryParams) -> HistoryQuery:
    dto = HistoricProcessInstanceQueryDto.model_validate(
        convert.query_fields(params, _NAMES, _LISTS, _BOOLS)
    )
    wanted = (
        (dto.active, "ACTIVE"),
        (dto.completed, "COMPLETED"),
        (dto.externally_terminated, "EXTERNALLY_TERMINATED"),
    )
    return HistoryQuery(
        process_instance_id=dto.process_instance_id,
        process_instance_ids=convert.id_tuple(dto.process_instance_ids),
        process_definition_id=dto.process_definition_id,
        process_definition_key=dto.process_definition_key,
        business_key=dto.process_instance_business_key,
        finished=dto.finished,
        unfinished=dto.unfinished,
        states=frozenset(state for on, state in wanted if on),
        tenant_id_in=convert.id_tuple(dto.tenant_id_in),
        started_before=convert.date_param("startedBefore", dto.started_before),
        started_after=convert.date_param("startedAfter", dto.started_after),
        finished_before=convert.date_param("finishedBefore", dto.finished_before),
        finished_after=convert.date_param("finishedAfter", dto.finished_after),
        # redtask never suspends an instance nor terminates one internally
        never=dto.suspended or dto.internally_terminated,
    )


async def _definitions(
    definitions: Definitions, found: list[HistoricInstance]
) -> dict[str, ProcessDefinition | None]:
    """The deployed definition of each instance (None when it is not deployed)."""

    async def one(definition_id: str) -> ProcessDefinition | None:
        try:
            return await definitions.definition(definition_id)
        except DefinitionNotFound:
            return None

    ids = list(dict.fromkeys(i.definition_id for i in found))
    return dict(zip(ids, await asyncio.gather(*map(one, ids)), strict=True))


@router.get("")
async def get_historic_instances(
    request: Request,
    store: StoreDep,
    definitions: DefinitionsDep,
    settings: SettingsDep,
    tz: TimezoneDep,
) -> Response:
    params = request.query_params
    query = _query(params)
    sorting = convert.sorting(params, None, HISTORY_SORT)
    first, maximum = paging(request)
    found = await store.query_history(query, sorting, first, maximum)
    by_id = await _definitions(definitions, found)
    ttl = settings.history_ttl_s
    return JSONBody(
        [convert.historic_process_instance(i, tz, ttl, by_id[i.definition_id]) for i in found]
    )


@router.get("/count")
async def count_historic_instances(request: Request, store: StoreDep) -> dict[str, int]:
    return {"count": len(await store.query_history(_query(request.query_params)))}


@router.get("/{id}")
async def get_historic_instance(
    id: str, store: StoreDep, definitions: DefinitionsDep, settings: SettingsDep, tz: TimezoneDep
) -> Response:
    found = await store.get_historic_instance(id)
    if found is None:
        raise invalid_request(f"Historic process instance with id {id} does not exist", 404)
    by_id = await _definitions(definitions, [found])
    ttl = settings.history_ttl_s
    return JSONBody(convert.historic_process_instance(found, tz, ttl, by_id[found.definition_id]))
