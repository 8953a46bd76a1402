"""The Camunda 7 ``/execution`` resource, for what redtask's executions are: ``GET /execution``
of one process instance (ExecutionRestServiceImpl; ``processInstanceId`` is required) and
``POST /execution/{id}/signal`` (ExecutionResourceImpl#signalExecution).

A receive task without a message waits to be signalled (``id``: the waiting execution, or the
process instance when it has one execution only); receive tasks and message catch events are
the executions redtask signals.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from redtask.broker.engine import NotSignallable
from redtask.broker.errors import InvalidVariable
from redtask.broker.instance_signals import ExecutionNotFound
from redtask.broker.instances import InstanceNotFound
from redtask.gateway import errors
from redtask.gateway.deps import StoreDep
from redtask.gateway.dto.signal import ExecutionTriggerDto
from redtask.gateway.errors import invalid_request
from redtask.gateway.responses import JSONBody

router = APIRouter(prefix="/execution", tags=["Execution"])
NO_CONTENT = 204


@router.get("")
async def query_executions(
    store: StoreDep, processInstanceId: str | None = None, activityId: str | None = None
) -> Response:
    """ExecutionDto of the executions of one running instance, in creation order; with
    ``activityId``, those in that activity."""
    if processInstanceId is None:
        raise invalid_request("redtask answers execution queries with a processInstanceId only")
    try:
        state, _ = await store.instance_state(processInstanceId)
    except InstanceNotFound:
        return JSONBody([])
    if state.status != "active":
        return JSONBody([])
    found = [
        {
            "id": e.id,
            "processInstanceId": state.instance_id,
            "ended": False,
            "tenantId": state.tenant_id,
        }
        for e in state.executions
        if activityId is None or e.element_id == activityId
    ]
    return JSONBody(found)


@router.post("/{id}/signal", status_code=NO_CONTENT)
async def signal_execution(id: str, dto: ExecutionTriggerDto, store: StoreDep) -> Response:
    prefix = f"Cannot signal execution {id}"
    try:
        await store.signal_execution(id, dto.variables)
    except InvalidVariable as exc:
        raise invalid_request(f"{prefix}: {exc}") from exc
    except (ExecutionNotFound, NotSignallable) as exc:
        raise errors.execution_not_signalled(id, exc) from exc
    return Response(status_code=NO_CONTENT)
