"""``POST /signal`` (SignalRestServiceImpl): it triggers signal events. Without an
``executionId`` it starts an instance of every latest process with a signal start event for
the name (204, also when nothing is subscribed); with one it is refused as Camunda refuses an
execution without a signal subscription (redtask has no signal catch events). (A receive task
is no signal event: ``POST /execution/{id}/signal`` moves it.)
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
