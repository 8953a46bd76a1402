"""What the direct-Redis transport translates between the broker and the SDK: a subscription
into the broker's topic request, a task's Redis hash or the broker's task into the SDK's
``ExternalTask``, and the broker's and Redis's errors into the transport's three kinds."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from redtask.broker import model
from redtask.broker.connection import BACKEND_ERRORS
from redtask.broker.errors import (
    ConfigurationError,
    InvalidArgument,
    LockExpired,
    StaleLock,
    TaskNotFound,
    WorkerMismatch,
)
from redtask.worker.errors import Rejected, TaskLost, Unavailable
from redtask.worker.task import ExternalTask
from redtask.worker.transport.base import Subscription

_LOST = (TaskNotFound, WorkerMismatch, LockExpired, StaleLock)


def topic_request(s: Subscription) -> model.TopicRequest:
    return model.TopicRequest(
        topic_name=s.topic,
        lock_duration=s.lock_duration,
        variables=s.variables,
        local_variables=s.local_variables,
        business_key=s.business_key,
        process_definition_key=s.process_definition_key,
        process_definition_key_in=s.process_definition_key_in,
        without_tenant_id=s.without_tenant_id,
        tenant_id_in=s.tenant_id_in,
        process_variables=s.process_variables,
        include_extension_properties=s.include_extension_properties,
    )


@lru_cache(maxsize=16)
def _expiration(expires: str) -> datetime:
    """A lock's end (epoch ms, as stored) as a datetime: the tasks of one fetch share theirs."""
    return datetime.fromtimestamp(int(expires) / 1000, UTC)


def task_from_hash(task_id: str, h: Mapping[str, str], request: model.TopicRequest) -> ExternalTask:
    """A standalone task from its hash (fields in ``broker.model``), showing the variables
    ``request`` selects, as the broker's ``fetched_view`` does."""
    wanted = request.variables
    variables = {
        k[2:]: orjson.loads(v)
        for k, v in h.items()
        if k[:2] == "v." and (wanted is None or k[2:] in wanted)
    }
    retries, expires = h.get("r"), h.get("le")
    return ExternalTask(
        id=task_id,
        topic_name=h["t"],
        worker_id=h.get("w") or "",
        typed_variables=variables,
        retries=None if retries is None else int(retries),
        priority=int(h.get("p", "0")),
        business_key=h.get("bk"),
        tenant_id=h.get("tn"),
        error_message=h.get("em"),
        error_details=h.get("ed"),
        lock_expiration_time=None if expires is None else _expiration(expires),
        lock_token=int(h.get("tok", "0")),
    )


def task_from_model(t: model.ExternalTask) -> ExternalTask:
    expires = t.lock_expiration_time
    return ExternalTask(
        id=t.id,
        topic_name=t.topic_name,
        worker_id=t.worker_id or "",
        typed_variables=t.variables,
        retries=t.retries,
        priority=t.priority,
        business_key=t.business_key,
        tenant_id=t.tenant_id,
        process_instance_id=t.process_instance_id,
        process_definition_id=t.process_definition_id,
        process_definition_key=t.process_definition_key,
        activity_id=t.activity_id,
        activity_instance_id=t.activity_instance_id,
        execution_id=t.execution_id,
        error_message=t.error_message,
        error_details=t.error_details,
        lock_expiration_time=None
        if expires is None
        else datetime.fromtimestamp(expires / 1000, UTC),
        extension_properties=t.extension_properties,
        lock_token=t.lock_token,
    )


class Translated:
    """``with translated:`` turns broker and Redis errors into the transport's three kinds,
    naming ``where`` the server is (a plain context manager: it runs on every call, and an
    async one costs an await more)."""

    def __init__(self, where: str = "redis") -> None:
        self.where = where  # names the server in Unavailable's message

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if exc is None or not isinstance(exc, Exception):
            return
        if isinstance(exc, _LOST):
            raise TaskLost(str(exc)) from exc
        if isinstance(exc, InvalidArgument | ConfigurationError):
            raise Rejected(str(exc)) from exc
        if isinstance(exc, BACKEND_ERRORS):
            raise Unavailable(f"{self.where}: {exc!r}") from exc
