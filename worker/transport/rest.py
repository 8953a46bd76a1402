"""The REST transport: Camunda 7's external-task endpoints only, so a worker runs unchanged
against redtask's gateway or a Camunda 7 engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import aiohttp
import orjson

from redtask.worker.errors import Rejected, TaskLost, Unavailable
from redtask.worker.task import ExternalTask
from redtask.worker.transport.base import Subscription
from redtask.worker.values import TypedValue

# a 400 on these operations means another worker holds the task or our lock expired
_LOST_MARKERS = ("It is locked by worker", "lock that expired", "is not locked")
_JSON = {"Content-Type": "application/json"}


def topic_body(s: Subscription) -> dict[str, Any]:
    """FetchExternalTaskTopicDto for one subscription (unset filters are left out)."""
    body: dict[str, Any] = {
        "topicName": s.topic,
        "lockDuration": s.lock_duration,
        "localVariables": s.local_variables,
    }
    optional = {
        "variables": list(s.variables) if s.variables is not None else None,
        "businessKey": s.business_key,
        "processDefinitionKey": s.process_definition_key,
        "processDefinitionKeyIn": s.process_definition_key_in,
        "tenantIdIn": s.tenant_id_in,
        "withoutTenantId": s.without_tenant_id or None,
        "processVariables": dict(s.process_variables) if s.process_variables else None,
        "includeExtensionProperties": s.include_extension_properties or None,
    }
    body.update(
        {k: list(v) if isinstance(v, tuple) else v for k, v in optional.items() if v is not None}
    )
    return body


def task_from_dto(dto: Mapping[str, Any]) -> ExternalTask:
    """An ExternalTask from Camunda's LockedExternalTaskDto."""
    expires = dto.get("lockExpirationTime")
    return ExternalTask(
        id=dto["id"],
        topic_name=dto["topicName"],
        worker_id=dto["workerId"],
        typed_variables=dto.get("variables") or {},
        retries=dto.get("retries"),
        priority=dto.get("priority") or 0,
        business_key=dto.get("businessKey"),
        tenant_id=dto.get("tenantId"),
        process_instance_id=dto.get("processInstanceId"),
        process_definition_id=dto.get("processDefinitionId"),
        process_definition_key=dto.get("processDefinitionKey"),
        activity_id=dto.get("activityId"),
        activity_instance_id=dto.get("activityInstanceId"),
        execution_id=dto.get("executionId"),
        error_message=dto.get("errorMessage"),
        error_details=dto.get("errorDetails"),
        lock_expiration_time=datetime.fromisoformat(expires) if expires else None,
        extension_properties=dto.get("extensionProperties") or {},
    )


class RestTransport:
    """Talks to ``base_url`` (e.g. ``http://gateway:8080/engine-rest``) over keep-alive HTTP/1.1
    connections (aiohttp, whose C parser costs a tenth of the CPU per request of a pure-Python
    client); ``session`` replaces the one it would open (and is then not closed by it)."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: tuple[str, str] | None = None,
        timeout_s: float = 30.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._auth = aiohttp.BasicAuth(*auth) if auth is not None else None
        self._session = session
        self._owned = session is None

    def _http(self) -> aiohttp.ClientSession:
        # opened on first use: a session belongs to the event loop it was opened on
        if self._session is None:
            self._session = aiohttp.ClientSession(auth=self._auth)
        return self._session

    async def _post(
        self, path: str, body: Mapping[str, Any], *, timeout_s: float | None = None
    ) -> bytes:
        timeout = aiohttp.ClientTimeout(
            total=timeout_s if timeout_s is not None else self.timeout_s
        )
        url = self.base_url + path
        try:
            async with self._http().post(
                url, data=orjson.dumps(body), headers=_JSON, timeout=timeout
            ) as response:
                status, content = response.status, await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:  # connect, read, protocol
            raise Unavailable(f"{url}: {exc!r}") from exc
        if status < 300:
            return content
        message = _error_message(content)
        if status >= 500:
            raise Unavailable(f"{path}: {status} {message}")
        if status == 404 or any(m in message for m in _LOST_MARKERS):
            raise TaskLost(message)
        raise Rejected(f"{path}: {status} {message}")

    async def fetch_and_lock(
        self,
        worker_id: str,
        max_tasks: int,
        subscriptions: Sequence[Subscription],
        *,
        use_priority: bool,
        wait_ms: int,
    ) -> list[ExternalTask]:
        body = {
            "workerId": worker_id,
            "maxTasks": max_tasks,
            "usePriority": use_priority,
            "asyncResponseTimeout": wait_ms,
            "topics": [topic_body(s) for s in subscriptions],
        }
        # the read timeout must outlast the server's long poll
        content = await self._post(
            "/external-task/fetchAndLock", body, timeout_s=wait_ms / 1000 + self.timeout_s
        )
        return [task_from_dto(dto) for dto in orjson.loads(content)]

    async def complete(
        self,
        task: ExternalTask,
        variables: Mapping[str, TypedValue],
        local_variables: Mapping[str, TypedValue],
    ) -> None:
        body = {
            "workerId": task.worker_id,
            "variables": dict(variables),
            "localVariables": dict(local_variables),
        }
        await self._post(f"/external-task/{task.id}/complete", body)

    async def failure(
        self,
        task: ExternalTask,
        error_message: str,
        error_details: str | None,
        retries: int,
        retry_timeout: int,
    ) -> None:
        body = {
            "workerId": task.worker_id,
            "errorMessage": error_message,
            "errorDetails": error_details,
            "retries": retries,
            "retryTimeout": retry_timeout,
        }
        await self._post(f"/external-task/{task.id}/failure", body)

    async def bpmn_error(
        self,
        task: ExternalTask,
        error_code: str,
        error_message: str | None,
        variables: Mapping[str, TypedValue],
    ) -> None:
        body = {
            "workerId": task.worker_id,
            "errorCode": error_code,
            "errorMessage": error_message,
            "variables": dict(variables),
        }
        await self._post(f"/external-task/{task.id}/bpmnError", body)

    async def extend_lock(self, task: ExternalTask, new_duration: int) -> None:
        body = {"workerId": task.worker_id, "newDuration": new_duration}
        await self._post(f"/external-task/{task.id}/extendLock", body)

    async def unlock(self, task: ExternalTask) -> None:
        await self._post(f"/external-task/{task.id}/unlock", {})

    async def aclose(self) -> None:
        if self._owned and self._session is not None:
            await self._session.close()
            self._session = None


def _error_message(content: bytes) -> str:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return content[:500].decode("utf-8", "replace")
