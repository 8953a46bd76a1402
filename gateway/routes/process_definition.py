"""The Camunda 7 ``/process-definition`` resource (read-only part): list, count, get by id or
by key (latest version), and the BPMN 2.0 XML.

The ``/key/...`` routes are registered before ``/{id}/...``: a literal segment wins, as in
JAX-RS, so ``/key/xml`` is the latest definition of key "xml", not the XML of id "key".
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from redtask.broker.definition_model import ProcessDefinition
from redtask.broker.definition_query import DEFINITION_SORT_FIELDS
from redtask.broker.definitions import Definitions
from redtask.broker.errors import BrokerError
from redtask.gateway import convert, errors
from redtask.gateway.deps import DefinitionsDep, StoreDep
from redtask.gateway.dto.process_definition import (
    ProcessDefinitionQueryDto,
    StartProcessInstanceDto,
)
from redtask.gateway.errors import CamundaError
from redtask.gateway.query import read_paging, read_query, read_sorting
from redtask.gateway.responses import JSONBody

router = APIRouter(prefix="/process-definition", tags=["Process Definition"])


async def _by_key(definitions: Definitions, key: str, tenant_id: str | None) -> ProcessDefinition:
    found = await definitions.latest_by_key(key, tenant_id)
    if found is None:
        tenant = "no tenant-id" if tenant_id is None else f"tenant-id: {tenant_id}"
        # a RestException of the REST layer itself: no engine cause, code null
        message = f"No matching process definition with key: {key} and {tenant}"
        raise CamundaError(404, "RestException", message, None)
    return found


async def _xml(definitions: Definitions, definition_id: str) -> Response:
    """ProcessDefinitionDiagramDto: the resource as text (invalid UTF-8 replaced, as Java's
    ``new String(bytes, "UTF-8")`` does)."""
    content = await definitions.xml(definition_id)
    return JSONBody({"id": definition_id, "bpmn20Xml": content.decode("utf-8", "replace")})


@router.get("")
async def list_definitions(request: Request, definitions: DefinitionsDep) -> Response:
    now = definitions.clock()
    params = request.query_params
    query = read_query(params, ProcessDefinitionQueryDto).to_query()
    sorting = read_sorting(params, DEFINITION_SORT_FIELDS)
    first, maximum = read_paging(params)
    page = await definitions.query_definitions(query, sorting, first, maximum, now_ms=now)
    return JSONBody([convert.process_definition(d, now) for d in page])


@router.get("/count")
async def count_definitions(request: Request, definitions: DefinitionsDep) -> Response:
    query = read_query(request.query_params, ProcessDefinitionQueryDto).to_query()
    return JSONBody({"count": await definitions.count_definitions(query)})


@router.get("/key/{key}")
async def get_by_key(key: str, definitions: DefinitionsDep) -> Response:
    found = await _by_key(definitions, key, None)
    return JSONBody(convert.process_definition(found, definitions.clock()))


@router.get("/key/{key}/xml")
async def get_xml_by_key(key: str, definitions: DefinitionsDep) -> Response:
    return await _xml(definitions, (await _by_key(definitions, key, None)).id)


@router.get("/key/{key}/tenant-id/{tenant_id}")
async def get_by_key_and_tenant(key: str, tenant_id: str, definitions: DefinitionsDep) -> Response:
    found = await _by_key(definitions, key, tenant_id)
    return JSONBody(convert.process_definition(found, definitions.clock()))


@router.get("/key/{key}/tenant-id/{tenant_id}/xml")
async def get_xml_by_key_and_tenant(
    key: str, tenant_id: str, definitions: DefinitionsDep
) -> Response:
    return await _xml(definitions, (await _by_key(definitions, key, tenant_id)).id)


@router.get("/{id}")
async def get_definition(id: str, definitions: DefinitionsDep) -> Response:
    found = await definitions.definition(id)
    return JSONBody(convert.process_definition(found, definitions.clock()))


@router.get("/{id}/xml")
async def get_xml(id: str, definitions: DefinitionsDep) -> Response:
    return await _xml(definitions, id)


async def _start(
    definition: ProcessDefinition, dto: StartProcessInstanceDto, request: Request, store: StoreDep
) -> Response:
    try:
        state = await store.start_process_instance(definition, dto.variables, dto.business_key)
    except BrokerError as exc:  # Camunda words every refusal of a start after the definition
        raise errors.instantiation_refused(definition.id, exc) from exc
    base_url = str(request.url).split("/process-definition/", 1)[0]
    body = convert.started_instance(state, definition.key, base_url)
    if dto.with_variables_in_return:
        body["variables"] = convert.variables_out(
            state.variables, request.app.state.timezone, deserialize=True
        )
    return JSONBody(body)


@router.post("/key/{key}/start")
async def start_by_key(
    key: str, dto: StartProcessInstanceDto, request: Request, store: StoreDep
) -> Response:
    definition = await _by_key(store.definitions, key, None)
    return await _start(definition, dto, request, store)


@router.post("/key/{key}/tenant-id/{tenant_id}/start")
async def start_by_key_and_tenant(
    key: str, tenant_id: str, dto: StartProcessInstanceDto, request: Request, store: StoreDep
) -> Response:
    definition = await _by_key(store.definitions, key, tenant_id)
    return await _start(definition, dto, request, store)


@router.post("/{id}/start")
async def start_by_id(
    id: str, dto: StartProcessInstanceDto, request: Request, store: StoreDep
) -> Response:
    try:
        definition = await store.definitions.definition(id)
    except BrokerError as exc:
        raise errors.unknown_definition_to_start(id) from exc
    return await _start(definition, dto, request, store)


@router.get("/{id}/statistics")
async def get_activity_statistics(id: str, request: Request, store: StoreDep) -> Response:
    """ActivityStatisticsResultDtos of the definition's running instances (none for an unknown
    id, as Camunda's query). ``failedJobs``, ``incidents`` and ``incidentsForType`` add those
    counts; the two incident parameters exclude each other."""
    params = request.query_params
    incidents, for_type = params.get("incidents"), params.get("incidentsForType")
    if incidents is not None and for_type is not None:
        raise CamundaError(
            400,
            "InvalidRequestException",
            "Only one of the query parameter includeIncidents or includeIncidentsForType "
            "can be set.",
            None,
        )
    with_incidents: str | bool = for_type if for_type is not None else _jaxrs_true(incidents)
    failed_jobs = _jaxrs_true(params.get("failedJobs"))
    found = await store.activity_statistics(id)
    bodies = [convert.activity_statistics(s, with_incidents) for s in found]
    if not failed_jobs:
        for body in bodies:
            body["failedJobs"] = 0
    return JSONBody(bodies)


def _jaxrs_true(value: str | None) -> bool:
    """A JAX-RS ``Boolean`` query parameter: ``Boolean.valueOf`` (true ignoring case)."""
    return value is not None and value.lower() == "true"
