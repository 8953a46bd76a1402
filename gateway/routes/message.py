"""POST /message: correlate a message to waiting process instances (§4.8)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from broker.instances import MessageNotCorrelated
from gateway.deps import StoreDep
from gateway.dto import Dto, Variables
from gateway.errors import CamundaError, camunda_errors, invalid_request
from gateway.responses import JSONBody

router = APIRouter(tags=["Message"])


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


@router.post("/message")
async def deliver_message(dto: CorrelationMessageDto, store: StoreDep) -> Response:
    if not dto.message_name:
        raise invalid_request("No message name supplied")
    if dto.tenant_id is not None and dto.without_tenant_id:
        raise invalid_request(
            "Parameter 'tenantId' cannot be used together with parameter 'withoutTenantId'."
        )
    if dto.variables_in_result_enabled and not dto.result_enabled:
        raise invalid_request(
            "Parameter 'variablesInResultEnabled' cannot be used without 'resultEnabled' set "
            "to true."
        )
    try:
        with camunda_errors("message", validation_type="InvalidRequestException"):
            executions = await store.correlate_message(
                dto.message_name,
                dto.business_key,
                dto.process_variables,
                all_matches=bool(dto.all),
            )
    except MessageNotCorrelated as exc:
        message = f"org.camunda.bpm.engine.MismatchingMessageCorrelationException: {exc}"
        raise CamundaError(400, "RestException", message, 0) from exc
    if not dto.result_enabled:
        return Response(status_code=204)
    results: list[dict[str, Any]] = [
        {
            "resultType": "Execution",
            "execution": {"id": e, "processInstanceId": i, "ended": False, "tenantId": None},
            "processInstance": None,
        }
        for i, e in executions
    ]
    return JSONBody(results)
