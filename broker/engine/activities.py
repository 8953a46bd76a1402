"""The activity instances a step starts and ends: Camunda's historic activity instances.

Every element a token enters is an activity instance. One that a step enters and leaves at once
(a start or end event, a gateway that forks, a boundary event) is reported once with
``ended``; one a token waits in (an external task, a sub-process, a timer, message or signal
catch event, a receive task, an event-based gateway, a join) is reported when it starts and
again when it ends, by the step that ends it. Sequence flows are no activities, as in Camunda.
"""

from __future__ import annotations

from dataclasses import dataclass

from redtask.broker.bpmn import (
    BoundaryEvent,
    CallActivity,
    EndEvent,
    EventBasedGateway,
    EventStartEvent,
    ExclusiveGateway,
    ExternalTask,
    FlowNode,
    InclusiveGateway,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    ParallelGateway,
    ReceiveTask,
    StartEvent,
    SubProcess,
)

_BOUNDARY_TYPES = {
    "error": "boundaryError",
    "timer": "boundaryTimer",
    "message": "boundaryMessage",
    "signal": "boundarySignal",
}
_EVENT_START_TYPES = {
    "error": "errorStartEvent",
    "message": "messageStartEvent",
    "timer": "startTimerEvent",
}
_CATCH_TYPES = {
    "timer": "intermediateTimer",
    "message": "intermediateMessageCatch",
    "signal": "intermediateSignalCatch",
}


@dataclass(frozen=True, slots=True)
class ActivityEvent:
    """``id`` None: an activity entered and left in this step (the committing layer names it).
    ``started``: it began in this step (with ``activity_id``, ``activity_type``, ``parent_id``
    (the enclosing sub-process's activity instance, else the process instance id),
    ``execution_id`` and ``task_id``: the external task, or a call activity's called instance);
    ``ended``: it ended in this step, ``canceled`` when it was
    interrupted (a boundary event, a terminate end event, a deleted instance), ``complete_scope``
    for an end event, which completes its scope."""

    id: str | None
    activity_id: str
    started: bool
    ended: bool
    activity_type: str = ""
    parent_id: str = ""
    execution_id: str = ""
    task_id: str | None = None
    canceled: bool = False
    complete_scope: bool = False


def activity_type(element: FlowNode) -> str:
    """Camunda's ``ActivityTypes`` name of an element."""
    if isinstance(element, ExternalTask):
        return element.task_type
    if isinstance(element, EndEvent):
        return _end_type(element)
    if isinstance(element, BoundaryEvent):
        return _BOUNDARY_TYPES[element.kind]
    if isinstance(element, IntermediateCatchEvent):
        return _CATCH_TYPES[element.kind]
    if isinstance(element, EventStartEvent):
        return _EVENT_START_TYPES[element.kind]
    if isinstance(element, IntermediateThrowEvent):
        return (
            "intermediateNoneThrowEvent"
            if element.signal_name is None
            else "intermediateSignalThrow"
        )
    simple: list[tuple[type[FlowNode], str]] = [
        (StartEvent, "startEvent"),
        (SubProcess, "subProcess"),
        (CallActivity, "callActivity"),
        (ReceiveTask, "receiveTask"),
        (ExclusiveGateway, "exclusiveGateway"),
        (InclusiveGateway, "inclusiveGateway"),
        (ParallelGateway, "parallelGateway"),
        (EventBasedGateway, "eventBasedGateway"),
    ]
    return next((name for kind, name in simple if isinstance(element, kind)), "unknown")


def _end_type(end: EndEvent) -> str:
    if end.error_code is not None:
        return "errorEndEvent"
    if end.signal_name is not None:
        return "signalEndEvent"
    if end.plain_message:
        return "endEvent"  # Camunda leaves the element's tag name for it
    return "terminateEndEvent" if end.terminate else "noneEndEvent"
