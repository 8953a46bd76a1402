"""``POST /signal`` (SignalRestServiceImpl): it triggers the signal catch and boundary events
(and event-based gateways waiting for one) subscribed to the signal, in every instance, and
starts an instance of every latest process with a signal start event for the name (of
``tenantId`` only, or without tenant with ``withoutTenantId``); 204, also when nothing is
subscribed (``broker.signal_delivery``). With an ``executionId`` only that execution's
subscriptions are triggered, refused as Camunda refuses it when it holds no such subscription.
(A receive task is no signal event: ``POST /execution/{id}/signal`` moves it.)
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from redtask.broker.errors import InvalidVariable
from redtask.broker.instance_signals import (
    NoSignalSubscription,
    SignalExecutionNotFound,
)
from redtask.gateway import errors
from redtask.gateway.deps import StoreDep
from redtask.gateway.dto.signal import SignalDto
from redtask.gateway.errors import invalid_request

router = APIRouter(tags=["Signal"])
NO_CONTENT = 204


@router.post("/signal", status_code=NO_CONTENT)
async def throw_signal(dto: SignalDto, store: StoreDep) -> Response:
    if dto.name is None:
        raise invalid_request("No signal name given")
    try:
        await store.throw_signal(
            dto.name,
            dto.execution_id,
            dto.variables,
            tenant_id=dto.tenant_id,
            without_tenant_id=bool(dto.without_tenant_id),
        )
    except InvalidVariable as exc:
        raise invalid_request(str(exc)) from exc
    except SignalExecutionNotFound as exc:
        raise errors.signal_not_delivered(exc, missing=True) from exc
    except NoSignalSubscription as exc:
        raise errors.signal_not_delivered(exc, missing=False) from exc
    return Response(status_code=NO_CONTENT)
