"""The Camunda 7 ``/deployment`` resource: create (multipart), list, count, get, delete.

``DELETE /deployment/{id}`` is refused while a definition of the deployment has running
instances, unless ``cascade=true``: then those instances are deleted first, as
``DELETE /process-instance/{id}`` deletes one. ``skipCustomListeners`` and ``skipIoMappings``
are read as Camunda reads them and change nothing (redtask runs no listeners or mappings when
it deletes an instance).
"""

from __future__ import annotations

from datetime import tzinfo

from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from redtask.broker import dates
from redtask.broker.definition_model import DeploymentRequest, Resource
from redtask.broker.definition_query import DEPLOYMENT_SORT_FIELDS
from redtask.gateway import convert
from redtask.gateway.deps import DefinitionsDep, TimezoneDep
from redtask.gateway.dto.deployment import DeploymentQueryDto
from redtask.gateway.errors import invalid_request
from redtask.gateway.query import flag, read_paging, read_query, read_sorting
from redtask.gateway.responses import JSONBody

router = APIRouter(prefix="/deployment", tags=["Deployment"])
NO_CONTENT = 204
NAME = "deployment-name"
ACTIVATION_TIME = "deployment-activation-time"
DUPLICATE_FILTERING = "enable-duplicate-filtering"
CHANGED_ONLY = "deploy-changed-only"
SOURCE = "deployment-source"
TENANT_ID = "tenant-id"
RESERVED = {NAME, ACTIVATION_TIME, DUPLICATE_FILTERING, CHANGED_ONLY, SOURCE, TENANT_ID}
MAX_PARTS = 1000


async def _text(value: str | UploadFile) -> str:
    if isinstance(value, UploadFile):
        return (await value.read()).decode("utf-8", errors="replace")
    return value


async def _deployment_request(request: Request, tz: tzinfo) -> DeploymentRequest:
    """Read the multipart form as Camunda's DeploymentRestServiceImpl does: reserved text
    parts configure the deployment, every other part is a resource and needs a file name."""
    resources: list[Resource] = []
    fields: dict[str, str] = {}
    async with request.form(max_files=MAX_PARTS, max_fields=MAX_PARTS) as form:
        for part_name, value in form.multi_items():
            if part_name in RESERVED:
                fields[part_name] = await _text(value)
            elif isinstance(value, UploadFile) and value.filename:
                resources.append(Resource(value.filename, await value.read()))
            else:  # Camunda formats the missing file name itself into the message
                raise invalid_request(
                    "No file name found in the deployment resource described by form "
                    "parameter 'null'."
                )
    if not resources:
        raise invalid_request("No deployment resources contained in the form upload.")
    activation = fields.get(ACTIVATION_TIME) or None
    activation_ms = None
    if activation is not None:
        try:
            activation_ms = dates.to_ms(dates.parse_datetime(activation, tz))
        except ValueError:
            raise invalid_request(
                f"Cannot set form parameter '{ACTIVATION_TIME}' to value '{activation}'"
            ) from None

    def flag(name: str) -> bool:  # Java's Boolean.parseBoolean
        return fields.get(name, "").lower() == "true"

    return DeploymentRequest(
        resources=resources,
        name=fields.get(NAME),
        source=fields.get(SOURCE),
        tenant_id=fields.get(TENANT_ID) or None,
        duplicate_filtering=flag(DUPLICATE_FILTERING),
        changed_only=flag(CHANGED_ONLY),
        activation_time=activation_ms,
    )


@router.post("/create")
async def create(request: Request, definitions: DefinitionsDep, tz: TimezoneDep) -> Response:
    deployment_request = await _deployment_request(request, tz)
    result = await definitions.deploy(deployment_request)
    path = request.url.path.removesuffix("/create") + "/" + result.deployment.id
    self_url = str(request.url.replace(path=path, query=""))
    body = convert.deployment_with_definitions(result, tz, self_url, definitions.clock())
    return JSONBody(body)


@router.get("")
async def list_deployments(
    request: Request, definitions: DefinitionsDep, tz: TimezoneDep
) -> Response:
    params = request.query_params
    query = read_query(params, DeploymentQueryDto).to_query()
    sorting = read_sorting(params, DEPLOYMENT_SORT_FIELDS)
    first, maximum = read_paging(params)
    page = await definitions.query_deployments(query, sorting, first, maximum)
    return JSONBody([convert.deployment(d, tz) for d in page])


@router.get("/count")
async def count_deployments(request: Request, definitions: DefinitionsDep) -> Response:
    query = read_query(request.query_params, DeploymentQueryDto).to_query()
    return JSONBody({"count": await definitions.count_deployments(query)})


@router.get("/{id}")
async def get_deployment(id: str, definitions: DefinitionsDep, tz: TimezoneDep) -> Response:
    found = await definitions.deployment(id)
    return JSONBody(convert.deployment(found, tz))


@router.delete("/{id}", status_code=NO_CONTENT)
async def delete_deployment(id: str, request: Request, definitions: DefinitionsDep) -> Response:
    cascade = flag(request.query_params, "cascade")
    # refused without cascade: Camunda's 500 ProcessEngineException, a 400 here (README)
    await definitions.delete_deployment(id, cascade=cascade)
    return Response(status_code=NO_CONTENT)
