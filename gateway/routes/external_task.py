"""The Camunda 7 ``/external-task`` resource, exactly as engine-rest answers it."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from redtask.broker import dates
from redtask.broker.errors import TaskNotFound
from redtask.broker.model import ExternalTask
from redtask.broker.query import TaskQuery
from redtask.gateway import convert
from redtask.gateway.deps import HubDep, SettingsDep, StoreDep, TimezoneDep
from redtask.gateway.dto import (
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
)
from redtask.gateway.errors import CamundaError, camunda_errors, invalid_request
from redtask.gateway.params import (
    boolean_param,
    paging,
    query_from_params,
    sorting_from_body,
    sorting_from_params,
)
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


@router.post("/fetchAndLock")
async def fetch_and_lock(
    dto: FetchExternalTasksDto,
    request: Request,
    store: StoreDep,
    hub: HubDep,
    settings: SettingsDep,
    tz: TimezoneDep,
) -> Response:
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
        with camunda_errors("fetchAndLock"):
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
        tasks = await hub.park(request, [t.topic_name for t in topics], timeout, fetch)
    return JSONBody([convert.locked_external_task(t, tz) for t in tasks])


@router.post("/{id}/complete", status_code=NO_CONTENT)
async def complete(id: str, dto: CompleteExternalTaskDto, store: StoreDep) -> Response:
    with camunda_errors("complete"):
        await store.complete(id, dto.worker_id, dto.variables, dto.local_variables)  # type: ignore[arg-type]
    return Response(status_code=NO_CONTENT)


@router.post("/{id}/failure", status_code=NO_CONTENT)
async def handle_failure(id: str, dto: ExternalTaskFailureDto, store: StoreDep) -> Response:
    with camunda_errors("failure"):
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
    with camunda_errors("bpmnError"):
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
    with camunda_errors("lock"):
        await store.lock(id, dto.worker_id, dto.lock_duration or 0)
    return Response(status_code=NO_CONTENT)


@router.post("/{id}/extendLock", status_code=NO_CONTENT)
async def extend_lock(id: str, dto: ExtendLockOnExternalTaskDto, store: StoreDep) -> Response:
    if (dto.new_duration or 0) <= 0:
        raise CamundaError(400, "RestException", "lockTime is not greater than 0", 0)
    with camunda_errors("extendLock"):
        await store.extend_lock(id, dto.worker_id, dto.new_duration or 0)  # type: ignore[arg-type]
    return Response(status_code=NO_CONTENT)


@router.post("/{id}/unlock", status_code=NO_CONTENT)
async def unlock(id: str, store: StoreDep) -> Response:
    with camunda_errors("unlock"):
        await store.unlock(id)
    return Response(status_code=NO_CONTENT)


async def _query(
    store: StoreDep, query: TaskQuery, sorting: list[tuple[str, str]], request: Request
) -> list[ExternalTask]:
    first, maximum = paging(request)
    with camunda_errors("query", validation_type="InvalidRequestException"):
        return await store.query(query, sorting, first, maximum)


@router.get("")
async def get_external_tasks(request: Request, store: StoreDep, tz: TimezoneDep) -> Response:
    with camunda_errors("query", validation_type="InvalidRequestException"):
        query = convert.task_query(query_from_params(request.query_params))
    tasks = await _query(store, query, sorting_from_params(request.query_params), request)
    return JSONBody([convert.external_task(t, tz) for t in tasks])


@router.post("")
async def query_external_tasks(
    dto: ExternalTaskQueryDto, request: Request, store: StoreDep, tz: TimezoneDep
) -> Response:
    with camunda_errors("query", validation_type="InvalidRequestException"):
        query = convert.task_query(dto)
    tasks = await _query(store, query, sorting_from_body(dto.sorting), request)
    return JSONBody([convert.external_task(t, tz) for t in tasks])


@router.get("/count")
async def count_external_tasks(request: Request, store: StoreDep) -> dict[str, int]:
    with camunda_errors("query", validation_type="InvalidRequestException"):
        query = convert.task_query(query_from_params(request.query_params))
        return {"count": await store.count(query)}


@router.post("/count")
async def count_external_tasks_post(dto: ExternalTaskQueryDto, store: StoreDep) -> dict[str, int]:
    with camunda_errors("query", validation_type="InvalidRequestException"):
        return {"count": await store.count(convert.task_query(dto))}


@router.get("/topic-names")
async def topic_names(request: Request, store: StoreDep) -> list[str]:
    params = request.query_params
    return await store.topic_names(
        with_locked_tasks=boolean_param(params, "withLockedTasks"),
        with_unlocked_tasks=boolean_param(params, "withUnlockedTasks"),
        with_retries_left=boolean_param(params, "withRetriesLeft"),
    )


async def _selected_ids(dto: SetRetriesForExternalTasksDto, store: StoreDep) -> list[str]:
    if dto.retries is None:
        raise invalid_request("The number of retries cannot be null.")
    ids = list(dto.external_task_ids or ())
    if any(i is None for i in ids):
        raise invalid_request(
            "External task id cannot be null: externalTaskIds contains null value"
        )
    selected: list[str] = [i for i in ids if i is not None]
    if dto.process_instance_ids:
        query = TaskQuery(process_instance_id_in=tuple(dto.process_instance_ids))
        selected += [t.id for t in await store.query(query)]
    if dto.external_task_query is not None:
        with camunda_errors("query", validation_type="InvalidRequestException"):
            query = convert.task_query(dto.external_task_query)
            selected += [t.id for t in await store.query(query)]
    if not selected:
        raise invalid_request("externalTaskIds is empty")
    if dto.retries < 0:
        raise invalid_request(
            "The number of retries cannot be negative: retries is not greater than or equal to 0"
        )
    return list(dict.fromkeys(selected))


async def _set_retries_many(ids: list[str], retries: int, store: StoreDep) -> None:
    try:
        await store.set_retries_many(ids, retries)
    except TaskNotFound as exc:
        raise invalid_request(
            f"Cannot find external task with id {exc.task_id}: externalTask is null", 404
        ) from exc


@router.put("/retries", status_code=NO_CONTENT)
async def set_retries_sync(dto: SetRetriesForExternalTasksDto, store: StoreDep) -> Response:
    ids = await _selected_ids(dto, store)
    await _set_retries_many(ids, dto.retries or 0, store)
    return Response(status_code=NO_CONTENT)


@router.post("/retries-async")
async def set_retries_async(
    dto: SetRetriesForExternalTasksDto, request: Request, store: StoreDep, tz: TimezoneDep
) -> Response:
    ids = await _selected_ids(dto, store)
    await _set_retries_many(ids, dto.retries or 0, store)
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
async def get_external_task(id: str, store: StoreDep, tz: TimezoneDep) -> Response:
    try:
        task = await store.get(id)
    except TaskNotFound as exc:  # no engine cause here, so code is null
        raise CamundaError(404, "RestException", str(exc), None) from exc
    return JSONBody(convert.external_task(task, tz))


@router.get("/{id}/errorDetails", response_class=PlainTextResponse)
async def error_details(id: str, store: StoreDep) -> Response:
    try:
        details = await store.error_details(id)
    except TaskNotFound as exc:
        raise CamundaError(
            400,
            "NullValueException",
            f"No external task found with id {id}: externalTask is null",
            0,
        ) from exc
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
    with camunda_errors("retries"):
        await store.set_retries(id, dto.retries)
    return Response(status_code=NO_CONTENT)


@router.put("/{id}/priority", status_code=NO_CONTENT)
async def set_priority(id: str, dto: PriorityDto, store: StoreDep) -> Response:
    if dto.priority is None:
        raise invalid_request("priority is null")
    with camunda_errors("priority"):
        await store.set_priority(id, dto.priority)
    return Response(status_code=NO_CONTENT)
