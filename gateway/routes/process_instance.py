"""The Camunda 7 ``/process-instance`` resource (reference §4.6): queries of running instances,
one instance, its deletion, and its process-level variables."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from starlette.datastructures import QueryParams

from redtask.broker.definitions import Definitions
from redtask.broker.errors import InvalidVariable
from redtask.broker.instance_reads import (
    INSTANCE_SORT,
    IncidentQuery,
    InstanceQuery,
    ProcessInstance,
)
from redtask.broker.instances import InstanceNotFound
from redtask.broker.query import OPERATORS, VariableCondition
from redtask.broker.store import Store
from redtask.gateway import convert
from redtask.gateway.deps import DefinitionsDep, StoreDep, TimezoneDep
from redtask.gateway.dto import Dto, SortingDto, VariableQueryParameterDto
from redtask.gateway.errors import CamundaError, camunda_errors, invalid_request
from redtask.gateway.params import paging
from redtask.gateway.responses import JSONBody

router = APIRouter(prefix="/process-instance", tags=["Process Instance"])
NO_CONTENT = 204
RESOURCE = "process instance"


class ProcessInstanceQueryDto(Dto):
    process_instance_ids: list[str] | None = None
    business_key: str | None = None
    business_key_like: str | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    process_definition_key_in: list[str] | None = None
    process_definition_key_not_in: list[str] | None = None
    deployment_id: str | None = None
    super_process_instance: str | None = None
    sub_process_instance: str | None = None
    case_instance_id: str | None = None
    super_case_instance: str | None = None
    sub_case_instance: str | None = None
    active: bool | None = None
    suspended: bool | None = None
    with_incident: bool | None = None
    incident_id: str | None = None
    incident_type: str | None = None
    incident_message: str | None = None
    incident_message_like: str | None = None
    tenant_id_in: list[str] | None = None
    without_tenant_id: bool | None = None
    process_definition_without_tenant_id: bool | None = None
    activity_id_in: list[str] | None = None
    root_process_instances: bool | None = None
    leaf_process_instances: bool | None = None
    variables: list[VariableQueryParameterDto] | None = None
    variable_names_ignore_case: bool | None = None
    variable_values_ignore_case: bool | None = None
    or_queries: list[Any] | None = None
    sorting: list[SortingDto] | None = None


class PatchVariablesDto(Dto):
    modifications: dict[str, Any] | None = None
    deletions: list[str] | None = None


_NAMES = {f.alias or n for n, f in ProcessInstanceQueryDto.model_fields.items()} - {
    "sorting",
    "orQueries",
}
_LISTS = {
    "processInstanceIds",
    "processDefinitionKeyIn",
    "processDefinitionKeyNotIn",
    "tenantIdIn",
    "activityIdIn",
}
_BOOLS = {
    "active",
    "suspended",
    "withIncident",
    "withoutTenantId",
    "processDefinitionWithoutTenantId",
    "rootProcessInstances",
    "leafProcessInstances",
    "variableNamesIgnoreCase",
    "variableValuesIgnoreCase",
}


def _dto(params: QueryParams) -> ProcessInstanceQueryDto:
    fields = convert.query_fields(params, _NAMES, _LISTS, _BOOLS)
    return ProcessInstanceQueryDto.model_validate(fields)


async def _query(dto: ProcessInstanceQueryDto, definitions: Definitions) -> InstanceQuery:
    if dto.or_queries:
        raise invalid_request("redtask does not support the process instance filter 'orQueries'")
    deployed = None  # the definitions of the deployment asked for
    if dto.deployment_id is not None:
        found = await definitions.definitions()
        deployed = tuple(d.id for d in found if d.deployment_id == dto.deployment_id)
    conditions = []
    for c in dto.variables or ():
        if c.operator not in OPERATORS:
            raise invalid_request(f"Invalid variable comparator specified: {c.operator}")
        conditions.append(VariableCondition(c.name or "", c.operator, c.value))
    incident = None  # the filters on an incident the instance must have
    wanted = (dto.incident_id, dto.incident_type, dto.incident_message, dto.incident_message_like)
    if dto.with_incident or any(v is not None for v in wanted):
        incident = IncidentQuery(
            incident_id=dto.incident_id,
            incident_type=dto.incident_type,
            incident_message=dto.incident_message,
            incident_message_like=dto.incident_message_like,
        )
    # no call activities and no case instances: these relations never hold
    related = (dto.super_process_instance, dto.sub_process_instance, dto.case_instance_id)
    related_cases = (dto.super_case_instance, dto.sub_case_instance)
    return InstanceQuery(
        process_instance_ids=convert.id_tuple(dto.process_instance_ids),
        business_key=dto.business_key,
        business_key_like=dto.business_key_like,
        process_definition_id=dto.process_definition_id,
        process_definition_id_in=deployed,
        process_definition_key=dto.process_definition_key,
        process_definition_key_in=convert.id_tuple(dto.process_definition_key_in),
        process_definition_key_not_in=convert.id_tuple(dto.process_definition_key_not_in),
        tenant_id_in=convert.id_tuple(dto.tenant_id_in),
        without_tenant_id=bool(dto.without_tenant_id or dto.process_definition_without_tenant_id),
        suspended=bool(dto.suspended),
        incident=incident,
        activity_id_in=convert.id_tuple(dto.activity_id_in),
        variables=tuple(conditions),
        variable_names_ignore_case=bool(dto.variable_names_ignore_case),
        variable_values_ignore_case=bool(dto.variable_values_ignore_case),
        never=any(v is not None for v in (*related, *related_cases)),
    )


async def _list(
    store: Store,
    definitions: Definitions,
    dto: ProcessInstanceQueryDto,
    sorting: list[tuple[str, str]],
    request: Request,
) -> Response:
    query = await _query(dto, definitions)
    first, maximum = paging(request)
    with camunda_errors("query", validation_type="InvalidRequestException"):
        found = await store.query_instances(query, sorting, first, maximum)
    return JSONBody([convert.process_instance(i) for i in found])


@router.get("")
async def get_process_instances(
    request: Request, store: StoreDep, definitions: DefinitionsDep
) -> Response:
    params = request.query_params
    dto = _dto(params)
    sorting = convert.sorting(params, None, INSTANCE_SORT)
    return await _list(store, definitions, dto, sorting, request)


@router.post("")
async def query_process_instances(
    request: Request,
    store: StoreDep,
    definitions: DefinitionsDep,
    dto: ProcessInstanceQueryDto | None = None,
) -> Response:
    dto = dto or ProcessInstanceQueryDto()
    sorting = convert.sorting(None, dto.sorting, INSTANCE_SORT)
    return await _list(store, definitions, dto, sorting, request)


@router.get("/count")
async def count_process_instances(
    request: Request, store: StoreDep, definitions: DefinitionsDep
) -> dict[str, int]:
    query = await _query(_dto(request.query_params), definitions)
    return {"count": len(await store.query_instances(query))}


@router.post("/count")
async def count_process_instances_post(
    store: StoreDep, definitions: DefinitionsDep, dto: ProcessInstanceQueryDto | None = None
) -> dict[str, int]:
    query = await _query(dto or ProcessInstanceQueryDto(), definitions)
    return {"count": len(await store.query_instances(query))}


@router.get("/{id}")
async def get_process_instance(id: str, store: StoreDep) -> Response:
    try:
        instance: ProcessInstance = await store.get_instance(id)
    except InstanceNotFound as exc:
        raise invalid_request(f"Process instance with id {id} does not exist", 404) from exc
    return JSONBody(convert.process_instance(instance))


@router.delete("/{id}", status_code=NO_CONTENT)
async def delete_process_instance(id: str, request: Request, store: StoreDep) -> Response:
    # a JAX-RS boolean: anything but "true" (any case) is false
    fail = request.query_params.get("failIfNotExists", "true").lower() == "true"
    try:
        await store.cancel_instance(id)
    except InstanceNotFound as exc:
        if fail:
            message = f"No process instance found for id '{id}': processInstance is null"
            raise CamundaError(404, "InvalidRequestException", message, 0) from exc
    return Response(status_code=NO_CONTENT)


def _missing(id: str, prefix: str = "") -> CamundaError:
    """Camunda's 500 for an unknown instance, answered 400 (a client's bad input)."""
    message = f"execution {id} doesn't exist: execution is null"
    if not prefix:
        return CamundaError(400, "NullValueException", message, 0)
    return CamundaError(400, "RestException", f"{prefix}: {message}", 0)


async def _variables(id: str, store: Store, prefix: str = "") -> dict[str, Any]:
    try:
        state, _ = await store.instance_state(id)
    except InstanceNotFound as exc:
        raise _missing(id, prefix) from exc
    if state.status != "active":
        raise _missing(id, prefix)
    return dict(state.variables)


async def _modify(
    id: str,
    store: Store,
    modifications: dict[str, Any] | None,
    deletions: list[str],
    prefixes: tuple[str, str],
) -> Response:
    """Write variables; ``prefixes``: the messages' prefixes for a bad value, a missing
    instance."""
    try:
        await store.modify_variables(id, modifications, deletions)
    except InvalidVariable as exc:
        raise invalid_request(f"{prefixes[0]}: {exc}") from exc
    except InstanceNotFound as exc:
        raise _missing(id, prefixes[1]) from exc
    return Response(status_code=NO_CONTENT)


@router.get("/{id}/variables")
async def get_variables(id: str, store: StoreDep, tz: TimezoneDep) -> Response:
    return JSONBody(convert.variables_out(await _variables(id, store), tz))


@router.post("/{id}/variables", status_code=NO_CONTENT)
async def modify_variables(id: str, dto: PatchVariablesDto, store: StoreDep) -> Response:
    prefixes = (
        f"Cannot modify variables for {RESOURCE}",
        f"Cannot modify variables for {RESOURCE} {id}",
    )
    return await _modify(id, store, dto.modifications, dto.deletions or [], prefixes)


@router.get("/{id}/variables/{name}")
async def get_variable(id: str, name: str, store: StoreDep, tz: TimezoneDep) -> Response:
    values = await _variables(id, store, f"Cannot get {RESOURCE} variable {name}")
    if name not in values:
        raise invalid_request(f"{RESOURCE} variable with name {name} does not exist", 404)
    return JSONBody(convert.variables_out({name: values[name]}, tz)[name])


@router.get("/{id}/variables/{name}/data")
async def get_variable_data(id: str, name: str, store: StoreDep) -> Response:
    """A Bytes or File variable's content (Camunda's VariableResponseProvider): Bytes as
    application/octet-stream, a File with its mimeType (and encoding as charset) and filename."""
    values = await _variables(id, store, f"Cannot get {RESOURCE} variable {name}")
    if name not in values:
        raise invalid_request(f"{RESOURCE} variable with name {name} does not exist", 404)
    typed = values[name]
    if typed.get("type") not in ("Bytes", "File"):
        # Camunda names the process instance here, not the variable
        raise invalid_request(f"Value of variable with id {id} is not a binary value.")
    content = base64.b64decode(typed.get("value") or "")  # stored as base64
    if typed.get("type") == "Bytes":
        return Response(content, headers={"Content-Type": "application/octet-stream"})
    info = typed.get("valueInfo") or {}
    media = info.get("mimeType") or "application/octet-stream"
    if info.get("encoding"):
        media += f"; charset={info['encoding']}"
    disposition = f"attachment; filename={info.get('filename')}"
    return Response(content, headers={"Content-Type": media, "Content-Disposition": disposition})


@router.put("/{id}/variables/{name}", status_code=NO_CONTENT)
async def put_variable(
    id: str, name: str, value: Annotated[dict[str, Any], Body()], store: StoreDep
) -> Response:
    prefix = f"Cannot put {RESOURCE} variable {name}"
    return await _modify(id, store, {name: value}, [], (prefix, prefix))


@router.delete("/{id}/variables/{name}", status_code=NO_CONTENT)
async def delete_variable(id: str, name: str, store: StoreDep) -> Response:
    prefix = f"Cannot delete {RESOURCE} variable {name}"
    return await _modify(id, store, None, [name], (prefix, prefix))
