"""The Camunda 7 ``/external-task`` resource, exactly as engine-rest answers it
(ExternalTaskRestServiceImpl and ExternalTaskResourceImpl)."""

from __future__ import annotations

import uuid
from datetime import tzinfo
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from redtask.broker import dates
from redtask.broker.errors import TaskNotFound
from redtask.broker.model import ExternalTask
from redtask.broker.query import SORT_FIELDS
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from redtask.gateway import convert, errors
from redtask.gateway.deps import HubDep, SettingsDep, StoreDep, TimezoneDep
from redtask.gateway.dto.external_task import (
    CompleteExternalTaskDto,
    ExtendLockOnExternalTaskDto,
    ExternalTaskBpmnErrorDto,
    ExternalTaskFailureDto,
    ExternalTaskQueryDto,
    FetchExternalTasksDto,
    LockExternalTaskDto,
    PriorityDto,
    RetriesDto,
    SetRetriesForExternalTasksDto,
    TopicNamesParams,
)
from redtask.gateway.errors import CamundaError, invalid_request
from redtask.gateway.longpoll import WakeHub
from redtask.gateway.query import body_sorting, read_paging, read_query, read_sorting
from redtask.gateway.responses import JSONBody

router = APIRouter(prefix="/external-task", tags=["External Task"])
MAX_ASYNC_TIMEOUT = 1_800_000
NO_CONTENT = 204


def _fetch_sorting(dto: FetchExternalTasksDto) -> str | None:
    """The createTime order of a fetch request (only sortBy=createTime is valid)."""
    if not dto.sorting:
        return None
    first = dto.sorting[0]
    if first.sort_by != "createTime":
        raise invalid_request(f"Cannot set query sortBy parameter to value {first.sort_by}")
    if first.sort_order is None:
        raise CamundaError(
            400,
            "NotValidException",
            "Invalid query: call asc() or desc() after using orderByXX(): direction is null",
            0,
        )
    if first.sort_order not in ("asc", "desc"):
        raise invalid_request(f"Cannot set query sortOrder parameter to value {first.sort_order}")
    return first.sort_order


async def locked_tasks(
    dto: FetchExternalTasksDto,
    request: Request,
    store: Store,
    hub: WakeHub,
    settings: Settings,
    tz: tzinfo,
) -> list[dict[str, Any]]:
    """The answer of fetchAndLock: LockedExternalTaskDtos (served by the route below and by
    the gateway's hot path, gateway/hot.py)."""
    timeout = dto.async_response_timeout
    if timeout is not None and timeout > MAX_ASYNC_TIMEOUT:
        raise invalid_request(
            "The asynchronous response timeout cannot be set to a value greater than "
            f"{MAX_ASYNC_TIMEOUT} milliseconds"
        )
    order = _fetch_sorting(dto)
    if dto.worker_id is None:
        raise CamundaError(400, "NullValueException", "workerId is null", 0)
    max_tasks = dto.max_tasks or 0
    if max_tasks < 0:
        raise CamundaError(
            400, "ProcessEngineException", "maxResults is not greater than or equal to 0", 0
        )
    if max_tasks > settings.gateway_max_tasks:
        raise invalid_request(
            f"maxTasks must not be greater than {settings.gateway_max_tasks} "
            "(REDTASK_GATEWAY_MAX_TASKS)"
        )
    topics = [convert.topic_request(t) for t in dto.topics or ()]
    for t in topics:
        if t.topic_name is None:
            raise CamundaError(400, "NullValueException", "topicName is null", 0)
        if t.lock_duration <= 0:
            raise CamundaError(400, "ProcessEngineException", "lockTime is not greater than 0", 0)

    async def fetch() -> list[ExternalTask]:
        return await store.fetch_and_lock(
            dto.worker_id or "",
            max_tasks,
            topics,
            use_priority=bool(dto.use_priority),
            sort_create_time=order,  # type: ignore[arg-type]
        )

    if timeout is None:
        tasks = await fetch()
    else:
        tasks = await hub.park(request, topics, timeout, fetch)
    deserialize = {t.topic_name for t in topics if t.deserialize_values}
    return [convert.locked_external_task(t, tz, t.topic_name in deserialize) for t in tasks]


@router.post("/fetchAndLock")
async def fetch_and_lock(
    dto: FetchExternalTasksDto,
    request: Request,
    store: StoreDep,
    hub: HubDep,
    settings: SettingsDep,
    tz: TimezoneDep,
) -> Response:
    return JSONBody(await locked_tasks(dto, request, store, hub, settings, tz))


async def complete_task(id: str, dto: CompleteExternalTaskDto, store: Store) -> None:
    """The work of ``complete`` (served by the route below and by gateway/hot.py)."""
    await store.complete(id, dto.worker_id, dto.variables, dto.local_variables)  # type: ignore[arg-type]


@router.post("/{id}/complete", status_code=NO_CONTENT)
async def complete(id: str, dto: CompleteExternalTaskDto, store: StoreDep) -> Response:
    await complete_task(id, dto, store)
    return Response(status_code=NO_CONTENT)


@router.post("/{id}/failure", status_code=NO_CONTENT)
async def handle_failure(id: str, dto: ExternalTaskFailureDto, store: StoreDep) -> Response:
    await store.handle_failure(
        id,
        dto.worker_id,  # type: ignore[arg-type]
        dto.error_message,
        dto.error_details,
        dto.retries or 0,
        dto.retry_timeout or 0,
        variables=dto.variables,
        local_variables=dto.local_variables,
    )
    return Response(status_code=NO_CONTENT)


@router.post("/{id}/bpmnError", status_code=NO_CONTENT)
async def handle_bpmn_error(id: str, dto: ExternalTaskBpmnErrorDto, store: StoreDep) -> Response:
    await store.handle_bpmn_error(
        id,
        dto.worker_id,  # type: ignore[arg-type]
        dto.error_code,  # type: ignore[arg-type]
        dto.error_message,
        dto.variables,
    )
    return Response(status_code=NO_CONTENT)


@router.post("/{id}/lock", status_code=NO_CONTENT)
async def lock(id: str, dto: LockExternalTaskDto, store: StoreDep) -> Response:
    if dto.worker_id is None:
        raise CamundaError(400, "NullValueException", "workerId is null", 0)
    if (dto.lock_duration or 0) <= 0:
        raise CamundaError(400, "RestException", "lockDuration is not greater than 0", 0)
    await store.lock(id, dto.worker_id, dto.lock_duration or 0)
    return Response(status_code=NO_CONTENT)


@router.post("/{id}/extendLock", status_code=NO_CONTENT)
async def extend_lock(id: str, dto: ExtendLockOnExternalTaskDto, store: StoreDep) -> Response:
    if (dto.new_duration or 0) <= 0:
        raise CamundaError(400, "RestException", "lockTime is not greater than 0", 0)
    await store.extend_lock(id, dto.worker_id, dto.new_duration or 0)  # type: ignore[arg-type]
    return Response(status_code=NO_CONTENT)


@router.post("/{id}/unlock", status_code=NO_CONTENT)
async def unlock(id: str, store: StoreDep) -> Response:
    await store.unlock(id)
    return Response(status_code=NO_CONTENT)


@router.get("")
@errors.rest_layer_validates
async def get_external_tasks(request: Request, store: StoreDep, tz: TimezoneDep) -> Response:
    params = request.query_params
    query = read_query(params, ExternalTaskQueryDto).to_query()
    sorting = read_sorting(params, SORT_FIELDS)
    first, maximum = read_paging(params)
    tasks = await store.query(query, sorting, first, maximum)
    return JSONBody([convert.external_task(t, tz) for t in tasks])


@router.post("")
@errors.rest_layer_validates
async def query_external_tasks(
    dto: ExternalTaskQueryDto, request: Request, store: StoreDep, tz: TimezoneDep
) -> Response:
    query = dto.to_query()
    sorting = body_sorting(dto.sorting, SORT_FIELDS)
    first, maximum = read_paging(request.query_params)
    tasks = await store.query(query, sorting, first, maximum)
    return JSONBody([convert.external_task(t, tz) for t in tasks])


@router.get("/count")
@errors.rest_layer_validates
async def count_external_tasks(request: Request, store: StoreDep) -> dict[str, int]:
    query = read_query(request.query_params, ExternalTaskQueryDto).to_query()
    return {"count": await store.count(query)}


@router.post("/count")
@errors.rest_layer_validates
async def count_external_tasks_post(dto: ExternalTaskQueryDto, store: StoreDep) -> dict[str, int]:
    return {"count": await store.count(dto.to_query())}


@router.get("/topic-names")
async def topic_names(request: Request, store: StoreDep) -> list[str]:
    params = read_query(request.query_params, TopicNamesParams)
    return await store.topic_names(
        with_locked_tasks=bool(params.with_locked_tasks),
        with_unlocked_tasks=bool(params.with_unlocked_tasks),
        with_retries_left=bool(params.with_retries_left),
    )


async def _selected_ids(dto: SetRetriesForExternalTasksDto, store: StoreDep) -> list[str]:
    """The tasks whose retries a SetRetriesForExternalTasksDto sets, refused as Camunda's
    SetExternalTasksRetriesCmd refuses them."""
    if dto.retries is None:
        raise invalid_request("The number of retries cannot be null.")
    ids = dto.external_task_ids or []
    if any(i is None for i in ids):
        raise invalid_request(
            "External task id cannot be null: externalTaskIds contains null value"
        )
    query = None if dto.external_task_query is None else dto.external_task_query.to_query()
    selected = await store.select_task_ids(
        [i for i in ids if i is not None], dto.process_instance_ids or (), query
    )
    if not selected:
        raise invalid_request("externalTaskIds is empty")
    if dto.retries < 0:
        raise invalid_request(
            "The number of retries cannot be negative: retries is not greater than or equal to 0"
        )
    return selected


@router.put("/retries", status_code=NO_CONTENT)
@errors.answers(TaskNotFound, errors.retries_of_unknown_task)
async def set_retries_sync(dto: SetRetriesForExternalTasksDto, store: StoreDep) -> Response:
    await store.set_retries_many(await _selected_ids(dto, store), dto.retries or 0)
    return Response(status_code=NO_CONTENT)


@router.post("/retries-async")
@errors.answers(TaskNotFound, errors.retries_of_unknown_task)
async def set_retries_async(
    dto: SetRetriesForExternalTasksDto, request: Request, store: StoreDep, tz: TimezoneDep
) -> Response:
    ids = await _selected_ids(dto, store)
    await store.set_retries_many(ids, dto.retries or 0)
    now = dates.format_ms(store.clock(), tz)
    batch: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "type": "set-external-task-retries",
        "totalJobs": len(ids),
        "jobsCreated": len(ids),
        "batchJobsPerSeed": 100,
        "invocationsPerBatchJob": 1,
        "seedJobDefinitionId": None,
        "monitorJobDefinitionId": None,
        "batchJobDefinitionId": None,
        "suspended": False,
        "tenantId": None,
        "createUserId": getattr(request.state, "user", None),
        "startTime": now,
        "executionStartTime": now,
    }
    return JSONBody(batch)


@router.api_route("/fetchAndLock", methods=["GET", "PUT", "DELETE"], include_in_schema=False)
async def fetch_and_lock_wrong_method() -> Response:
    """JAX-RS prefers the literal path over ``/{id}``: other methods get 405, not a lookup."""
    raise StarletteHTTPException(405)


@router.get("/{id}")
@errors.answers(TaskNotFound, errors.unknown_task_by_rest_layer)
async def get_external_task(id: str, store: StoreDep, tz: TimezoneDep) -> Response:
    return JSONBody(convert.external_task(await store.get(id), tz))


@router.get("/{id}/errorDetails", response_class=PlainTextResponse)
@errors.answers(TaskNotFound, errors.no_error_details)
async def error_details(id: str, store: StoreDep) -> Response:
    details = await store.error_details(id)
    if details is None:
        return Response(status_code=NO_CONTENT)
    return PlainTextResponse(details)


@router.put("/{id}/retries", status_code=NO_CONTENT)
async def set_retries(id: str, dto: RetriesDto, store: StoreDep) -> Response:
    if dto.retries is None:
        raise invalid_request("The number of retries cannot be null.")
    if dto.retries < 0:
        raise CamundaError(
            400,
            "BadUserRequestException",
            "The number of retries cannot be negative: retries is not greater than or equal to 0",
            0,
        )
    await store.set_retries(id, dto.retries)
    return Response(status_code=NO_CONTENT)


@router.put("/{id}/priority", status_code=NO_CONTENT)
async def set_priority(id: str, dto: PriorityDto, store: StoreDep) -> Response:
    if dto.priority is None:
        raise invalid_request("priority is null")
    await store.set_priority(id, dto.priority)
    return Response(status_code=NO_CONTENT)
