"""POST /message: correlate a message to waiting process instances (MessageRestServiceImpl).

``processVariablesLocal`` are set on the execution Camunda correlates to, which for a receive
task or message catch event is the scope it waits in (the process instance at the top level,
so there they become process variables); ``localCorrelationKeys`` match that scope's variables
(see ``broker.engine.message_waiters``). ``processVariablesToTriggeredScope`` is not read.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from redtask.broker.errors import InvalidVariable
from redtask.gateway import convert, errors
from redtask.gateway.deps import StoreDep, TimezoneDep
from redtask.gateway.dto.message import CorrelationMessageDto
from redtask.gateway.errors import invalid_request
from redtask.gateway.responses import JSONBody

router = APIRouter(tags=["Message"])


@router.post("/message")
@errors.answers(InvalidVariable, errors.undeliverable_variable)
async def deliver_message(dto: CorrelationMessageDto, store: StoreDep, tz: TimezoneDep) -> Response:
    if dto.message_name is None:
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
    correlations = await store.correlate_message(
        dto.message_name,
        dto.business_key,
        dto.process_variables,
        all_matches=bool(dto.all),
        process_instance_id=dto.process_instance_id,
        correlation_keys=dto.correlation_keys,
        local_correlation_keys=dto.local_correlation_keys,
        raw_local_variables=dto.process_variables_local,
        tenant_id=dto.tenant_id,
        without_tenant_id=bool(dto.without_tenant_id),
    )
    if not dto.result_enabled:
        return Response(status_code=204)
    with_variables = bool(dto.variables_in_result_enabled)
    return JSONBody(
        [convert.message_correlation_result(c, tz, with_variables) for c in correlations]
    )
