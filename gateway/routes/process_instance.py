"""The Camunda 7 ``/process-instance`` resource (ProcessInstanceRestServiceImpl): queries of
running instances, one instance, its deletion, and its process-level variables."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from redtask.broker.definitions import Definitions
from redtask.broker.errors import InvalidVariable
from redtask.broker.instance_reads import INSTANCE_SORT
from redtask.broker.instances import InstanceNotFound
from redtask.broker.store import Store
from redtask.gateway import convert, errors
from redtask.gateway.deps import DefinitionsDep, StoreDep, TimezoneDep
from redtask.gateway.dto.process_instance import PatchVariablesDto, ProcessInstanceQueryDto
from redtask.gateway.errors import invalid_request
from redtask.gateway.query import (
    body_sorting,
    flag_defaulting_to_true,
    read_paging,
    read_query,
    read_sorting,
)
from redtask.gateway.responses import JSONBody, variable_data

router = APIRouter(prefix="/process-instance", tags=["Process Instance"])
NO_CONTENT = 204
RESOURCE = "process instance"


async def _list(
    store: Store,
    definitions: Definitions,
    dto: ProcessInstanceQueryDto,
    sorting: list[tuple[str, str]],
    request: Request,
) -> Response:
    query = await dto.to_query(definitions)
    first, maximum = read_paging(request.query_params)
    found = await store.query_instances(query, sorting, first, maximum)
    return JSONBody([convert.process_instance(i) for i in found])


@router.get("")
@errors.rest_layer_validates
async def get_process_instances(
    request: Request, store: StoreDep, definitions: DefinitionsDep
) -> Response:
    params = request.query_params
    dto = read_query(params, ProcessInstanceQueryDto)
    sorting = read_sorting(params, INSTANCE_SORT)
    return await _list(store, definitions, dto, sorting, request)


@router.post("")
@errors.rest_layer_validates
async def query_process_instances(
    request: Request,
    store: StoreDep,
    definitions: DefinitionsDep,
    dto: ProcessInstanceQueryDto | None = None,
) -> Response:
    dto = dto or ProcessInstanceQueryDto()
    sorting = body_sorting(dto.sorting, INSTANCE_SORT)
    return await _list(store, definitions, dto, sorting, request)


@router.get("/count")
async def count_process_instances(
    request: Request, store: StoreDep, definitions: DefinitionsDep
) -> dict[str, int]:
    query = await read_query(request.query_params, ProcessInstanceQueryDto).to_query(definitions)
    return {"count": len(await store.query_instances(query))}


@router.post("/count")
async def count_process_instances_post(
    store: StoreDep, definitions: DefinitionsDep, dto: ProcessInstanceQueryDto | None = None
) -> dict[str, int]:
    query = await (dto or ProcessInstanceQueryDto()).to_query(definitions)
    return {"count": len(await store.query_instances(query))}


@router.get("/{id}")
@errors.answers(InstanceNotFound, errors.unknown_instance)
async def get_process_instance(id: str, store: StoreDep) -> Response:
    return JSONBody(convert.process_instance(await store.get_instance(id)))


@router.delete("/{id}", status_code=NO_CONTENT)
async def delete_process_instance(id: str, request: Request, store: StoreDep) -> Response:
    # a JAX-RS boolean: anything but "true" (any case) is false
    fail = request.query_params.get("failIfNotExists", "true").lower() == "true"
    try:
        await store.cancel_instance(id)
    except InstanceNotFound as exc:
        if fail:
            raise errors.no_instance_to_delete(id) from exc
    return Response(status_code=NO_CONTENT)


async def _variables(id: str, store: Store, prefix: str = "") -> dict[str, Any]:
    try:
        state, _ = await store.instance_state(id)
    except InstanceNotFound as exc:
        raise errors.execution_missing(id, prefix) from exc
    if state.status != "active":
        raise errors.execution_missing(id, prefix)
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
        raise errors.execution_missing(id, prefixes[1]) from exc
    return Response(status_code=NO_CONTENT)


@router.get("/{id}/variables")
async def get_variables(
    id: str, store: StoreDep, tz: TimezoneDep, deserializeValues: str | None = None
) -> Response:
    variables = await _variables(id, store)
    return JSONBody(
        convert.variables_out(variables, tz, flag_defaulting_to_true(deserializeValues))
    )


@router.post("/{id}/variables", status_code=NO_CONTENT)
async def modify_variables(id: str, dto: PatchVariablesDto, store: StoreDep) -> Response:
    prefixes = (
        f"Cannot modify variables for {RESOURCE}",
        f"Cannot modify variables for {RESOURCE} {id}",
    )
    return await _modify(id, store, dto.modifications, dto.deletions or [], prefixes)


@router.get("/{id}/variables/{name}")
async def get_variable(
    id: str, name: str, store: StoreDep, tz: TimezoneDep, deserializeValue: str | None = None
) -> Response:
    values = await _variables(id, store, f"Cannot get {RESOURCE} variable {name}")
    if name not in values:
        raise invalid_request(f"{RESOURCE} variable with name {name} does not exist", 404)
    one = convert.variables_out({name: values[name]}, tz, flag_defaulting_to_true(deserializeValue))
    return JSONBody(one[name])


@router.get("/{id}/variables/{name}/data")
async def get_variable_data(id: str, name: str, store: StoreDep) -> Response:
    """A Bytes or File variable's content (Camunda's VariableResponseProvider): Bytes as
    application/octet-stream, a File with its mimeType (and encoding as charset) and filename."""
    values = await _variables(id, store, f"Cannot get {RESOURCE} variable {name}")
    if name not in values:
        raise invalid_request(f"{RESOURCE} variable with name {name} does not exist", 404)
    data = variable_data(values[name])
    if data is None:
        # Camunda names the process instance here, not the variable
        raise invalid_request(f"Value of variable with id {id} is not a binary value.")
    return data


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


@router.get("/{id}/activity-instances")
async def get_activity_instance_tree(id: str, store: StoreDep) -> Response:
    """ActivityInstanceDto: the running instance's activity tree."""
    try:
        tree = await store.activity_instance_tree(id)
    except InstanceNotFound as exc:
        raise invalid_request(f"Process instance with id {id} does not exist", 404) from exc
    return JSONBody(convert.activity_instance(tree))
