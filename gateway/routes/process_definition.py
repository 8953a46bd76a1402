"""The Camunda 7 ``/process-definition`` resource (read-only part): list, count, get by id or
by key (latest version), and the BPMN 2.0 XML.

The ``/key/...`` routes are registered before ``/{id}/...``: a literal segment wins, as in
JAX-RS, so ``/key/xml`` is the latest definition of key "xml", not the XML of id "key".
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from redtask.broker.definition_model import DefinitionNotFound, ProcessDefinition
from redtask.broker.definition_query import DEFINITION_SORT_FIELDS, sort_and_page
from redtask.broker.definitions import Definitions
from redtask.broker.errors import BrokerError, InvalidVariable
from redtask.gateway import convert
from redtask.gateway.deps import DefinitionsDep, StoreDep
from redtask.gateway.dto import Dto, Variables
from redtask.gateway.errors import CamundaError, camunda_errors
from redtask.gateway.params import paging
from redtask.gateway.repository_params import definition_query, definition_sorting
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
    with camunda_errors("getProcessDefinitionBpmn20Xml"):
        content = await definitions.xml(definition_id)
    return JSONBody({"id": definition_id, "bpmn20Xml": content.decode("utf-8", "replace")})


@router.get("")
async def list_definitions(request: Request, definitions: DefinitionsDep) -> Response:
    now = definitions.clock()
    query = definition_query(request.query_params)
    sorting = definition_sorting(request.query_params)
    first, maximum = paging(request)
    found = query.select(await definitions.definitions(), now)
    page = sort_and_page(found, DEFINITION_SORT_FIELDS, sorting, first, maximum)
    return JSONBody([convert.process_definition(d, now) for d in page])


@router.get("/count")
async def count_definitions(request: Request, definitions: DefinitionsDep) -> Response:
    query = definition_query(request.query_params)
    found = query.select(await definitions.definitions(), definitions.clock())
    return JSONBody({"count": len(found)})


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
    with camunda_errors("getProcessDefinition"):
        found = await definitions.definition(id)
    return JSONBody(convert.process_definition(found, definitions.clock()))


@router.get("/{id}/xml")
async def get_xml(id: str, definitions: DefinitionsDep) -> Response:
    return await _xml(definitions, id)


class StartProcessInstanceDto(Dto):
    variables: Variables = None
    business_key: str | None = None
    case_instance_id: str | None = None
    with_variables_in_return: bool | None = None


async def _start(
    definition: ProcessDefinition, dto: StartProcessInstanceDto, request: Request, store: StoreDep
) -> Response:
    definitions = Definitions.of(store)
    prefix = f"Cannot instantiate process definition {definition.id}: "
    try:
        model = await definitions.get_model(definition.id)
        state, _ = await store.start_instance(
            model,
            definition.id,
            dto.variables,
            dto.business_key,
            definition.tenant_id,
            version_tag=definition.version_tag,
        )
        # a deployment deleted meanwhile may have walked its instances before this one was
        # committed: nothing may run on a definition that is gone
        try:
            await definitions.definition(definition.id)
        except DefinitionNotFound:
            await store.cancel_instance(state.instance_id, model=model)
            raise
    except InvalidVariable as exc:
        raise CamundaError(400, "InvalidRequestException", prefix + str(exc), None) from exc
    except BrokerError as exc:  # the engine refused the first steps (e.g. no outgoing flow)
        raise CamundaError(500, "RestException", prefix + str(exc), 0) from exc
    base_url = str(request.url).split("/process-definition/", 1)[0]
    body = convert.started_instance(state, definition.key, base_url)
    if dto.with_variables_in_return:
        body["variables"] = convert.variables_out(state.variables, request.app.state.timezone)
    return JSONBody(body)


@router.post("/key/{key}/start")
async def start_by_key(
    key: str, dto: StartProcessInstanceDto, request: Request, store: StoreDep
) -> Response:
    definition = await _by_key(Definitions.of(store), key, None)
    return await _start(definition, dto, request, store)


@router.post("/key/{key}/tenant-id/{tenant_id}/start")
async def start_by_key_and_tenant(
    key: str, tenant_id: str, dto: StartProcessInstanceDto, request: Request, store: StoreDep
) -> Response:
    definition = await _by_key(Definitions.of(store), key, tenant_id)
    return await _start(definition, dto, request, store)


@router.post("/{id}/start")
async def start_by_id(
    id: str, dto: StartProcessInstanceDto, request: Request, store: StoreDep
) -> Response:
    try:
        definition = await Definitions.of(store).definition(id)
    except BrokerError as exc:  # Camunda: 500 for an unknown id; a client's mistake here: 400
        message = (
            f"Cannot instantiate process definition {id}: no deployed process definition "
            f"found with id '{id}': processDefinition is null"
        )
        raise CamundaError(400, "RestException", message, 0) from exc
    return await _start(definition, dto, request, store)
