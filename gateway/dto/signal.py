"""The DTOs of ``POST /signal`` (SignalDto) and ``POST /execution/{id}/signal``
(ExecutionTriggerDto)."""

from __future__ import annotations

from redtask.gateway.dto.base import Dto
from redtask.gateway.dto.variables import Variables


class SignalDto(Dto):
    name: str | None = None
    execution_id: str | None = None
    variables: Variables = None
    tenant_id: str | None = None
    without_tenant_id: bool | None = None


class ExecutionTriggerDto(Dto):
    variables: Variables = None
