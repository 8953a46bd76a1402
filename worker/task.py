"""What a handler receives (:class:`ExternalTask`) and what it may return or raise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from redtask.worker.values import TypedValue, from_typed_map


@dataclass(frozen=True, slots=True)
class ExternalTask:
    """A task locked by this worker. ``variables`` are Python values, ``typed_variables`` the
    Camunda typed values they came from. ``lock_token`` is set by the Redis transport only."""

    id: str
    topic_name: str
    worker_id: str
    typed_variables: Mapping[str, TypedValue] = field(default_factory=dict)
    retries: int | None = None
    priority: int = 0
    business_key: str | None = None
    tenant_id: str | None = None
    process_instance_id: str | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    activity_id: str | None = None
    activity_instance_id: str | None = None
    execution_id: str | None = None
    error_message: str | None = None
    error_details: str | None = None
    lock_expiration_time: datetime | None = None
    extension_properties: Mapping[str, str | None] = field(default_factory=dict)
    lock_token: int | None = None

    @property
    def variables(self) -> dict[str, Any]:
        return from_typed_map(self.typed_variables)


@dataclass(frozen=True, slots=True)
class Complete:
    """Return this from a handler to complete with process and local variables."""

    variables: Mapping[str, Any] | None = None
    local_variables: Mapping[str, Any] | None = None


class BpmnError(Exception):
    """Raise to report a BPMN error: a boundary error event with ``code`` takes over."""

    def __init__(
        self, code: str, message: str | None = None, variables: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(code if message is None else f"{code}: {message}")
        self.code = code
        self.message = message
        self.variables = dict(variables or {})


class TaskFailure(Exception):
    """Raise to report a failure with explicit ``retries`` / ``retry_timeout_ms`` (otherwise the
    task's retry policy decides, as for any other exception). ``retries=0`` raises an incident."""

    def __init__(
        self,
        message: str,
        details: str | None = None,
        *,
        retries: int | None = None,
        retry_timeout_ms: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.retries = retries
        self.retry_timeout_ms = retry_timeout_ms
