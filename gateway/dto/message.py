"""The DTOs of ``POST /message``: CorrelationMessageDto."""

from __future__ import annotations

from redtask.gateway.dto.base import Dto
from redtask.gateway.dto.variables import Variables


class CorrelationMessageDto(Dto):
    message_name: str | None = None
    business_key: str | None = None
    tenant_id: str | None = None
    without_tenant_id: bool | None = None
    process_instance_id: str | None = None
    correlation_keys: Variables = None
    local_correlation_keys: Variables = None
    process_variables: Variables = None
    process_variables_local: Variables = None
    all: bool | None = None
    result_enabled: bool | None = None
    variables_in_result_enabled: bool | None = None
