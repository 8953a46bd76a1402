"""The Camunda 7 ``/history/variable-instance`` resource (HistoricVariableInstanceRestService):
the variables of running and kept process instances, with the final values of ended ones
(see ``broker.variable_history``). GET and POST queries (+ count), ``GET {id}``,
``GET {id}/data``. ``deserializeValues`` (``deserializeValue`` on ``GET {id}``, true by default)
renders an Object serialized as ``application/json`` parsed, as the runtime variable endpoints
do."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from fastapi import APIRouter, Request, Response

from redtask.broker import dates
from redtask.broker.variable_history import VARIABLE_SORT, HistoricVariable
from redtask.gateway import convert
from redtask.gateway.deps import SettingsDep, StoreDep, TimezoneDep
from redtask.gateway.dto.history_variable import HistoricVariableInstanceQueryDto
from redtask.gateway.errors import invalid_request
from redtask.gateway.query import (
    body_sorting,
    flag_defaulting_to_true,
    read_paging,
    read_query,
    read_sorting,
)
from redtask.gateway.responses import JSONBody, variable_data

router = APIRouter(prefix="/history/variable-instance", tags=["Historic Variable Instance"])


def _from_query_string(request: Request) -> HistoricVariableInstanceQueryDto:
    """The GET query; ``variableValue`` there is text (Camunda's String parameter)."""
    params = request.query_params
    dto = read_query(params, HistoricVariableInstanceQueryDto)
    if "variableValue" in params:
        dto = dto.model_copy(update={"variable_value": params["variableValue"]})
    return dto


def _dto(v: HistoricVariable, tz: tzinfo, ttl_s: int, deserialize: bool) -> dict[str, Any]:
    """HistoricVariableInstanceDto: every variable is CREATED (a deleted one is gone)."""
    i = v.instance
    removal = None if i.end is None else i.end + ttl_s * 1000
    return {
        **convert.variables_out({v.name: v.value}, tz, deserialize)[v.name],
        "id": v.id,
        "name": v.name,
        "processDefinitionKey": i.definition_key,
        "processDefinitionId": i.definition_id,
        "processInstanceId": i.id,
        "executionId": v.execution_id,
        "activityInstanceId": v.activity_instance_id,
        "caseDefinitionKey": None,
        "caseDefinitionId": None,
        "caseInstanceId": None,
        "caseExecutionId": None,
        "taskId": None,
        "errorMessage": None,
        "tenantId": i.tenant_id,
        "state": "CREATED",
        "createTime": dates.format_ms(v.create_time, tz),
        "removalTime": dates.format_ms(removal, tz),
        "rootProcessInstanceId": i.root_instance_id or i.id,
    }


@router.get("")
async def get_variables(
    request: Request, store: StoreDep, settings: SettingsDep, tz: TimezoneDep
) -> Response:
    params = request.query_params
    query = _from_query_string(request).to_query()
    sorting = read_sorting(params, VARIABLE_SORT)
    first, maximum = read_paging(params)
    found = await store.query_historic_variables(query, sorting, first, maximum)
    deserialize = flag_defaulting_to_true(params.get("deserializeValues"))
    return JSONBody([_dto(v, tz, settings.history_ttl_s, deserialize) for v in found])


@router.post("")
async def query_variables(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    tz: TimezoneDep,
    dto: HistoricVariableInstanceQueryDto | None = None,
) -> Response:
    dto = dto or HistoricVariableInstanceQueryDto()
    sorting = body_sorting(dto.sorting, VARIABLE_SORT)
    first, maximum = read_paging(request.query_params)
    found = await store.query_historic_variables(dto.to_query(), sorting, first, maximum)
    deserialize = flag_defaulting_to_true(request.query_params.get("deserializeValues"))
    return JSONBody([_dto(v, tz, settings.history_ttl_s, deserialize) for v in found])


@router.get("/count")
async def count_variables(request: Request, store: StoreDep) -> dict[str, int]:
    query = _from_query_string(request).to_query()
    return {"count": len(await store.query_historic_variables(query))}


@router.post("/count")
async def count_variables_post(
    store: StoreDep, dto: HistoricVariableInstanceQueryDto | None = None
) -> dict[str, int]:
    query = (dto or HistoricVariableInstanceQueryDto()).to_query()
    return {"count": len(await store.query_historic_variables(query))}


async def _one(id: str, store: StoreDep) -> HistoricVariable:
    found = await store.get_historic_variable(id)
    if found is None:
        message = f"Historic variable instance with Id '{id}' does not exist."
        raise invalid_request(message, 404)
    return found


@router.get("/{id}")
async def get_variable(
    id: str,
    store: StoreDep,
    settings: SettingsDep,
    tz: TimezoneDep,
    deserializeValue: str | None = None,
) -> Response:
    deserialize = flag_defaulting_to_true(deserializeValue)
    return JSONBody(_dto(await _one(id, store), tz, settings.history_ttl_s, deserialize))


@router.get("/{id}/data")
async def get_variable_data(id: str, store: StoreDep) -> Response:
    data = variable_data((await _one(id, store)).value)
    if data is None:
        raise invalid_request(f"Value of variable with id {id} is not a binary value.")
    return data
