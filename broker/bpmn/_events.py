"""Parsing of BPMN events (start, end, boundary, intermediate catch and throw) into model
objects. Each handler returns the node, or None after recording a Problem."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Literal

from redtask.broker.bpmn._context import EVENT_DEFINITIONS, ParseContext
from redtask.broker.bpmn._elements import Handler, io_mappings, service_task_like
from redtask.broker.bpmn._xml import (
    XmlElement,
    attr,
    bpmn_children,
    camunda_attr,
    extensions,
    local,
)
from redtask.broker.bpmn.model import (
    BoundaryEvent,
    Element,
    EndEvent,
    EventBasedGateway,
    EventStartEvent,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    Problem,
    SequenceFlow,
    StartEvent,
    TaskType,
)

_SERVICE_LIKE = ("class", "expression", "delegateExpression", "type")
_NAMED: dict[str, Literal["message", "signal"]] = {
    "messageEventDefinition": "message",
    "signalEventDefinition": "signal",
}


def _event_name(
    ctx: ParseContext, kind: str, definition: XmlElement, element: XmlElement, eid: str
) -> str | None:
    """The message or signal name a catching event definition references."""
    if kind == "messageEventDefinition":
        return ctx.message_name(definition, element, eid)
    return ctx.signal_name(definition, element, eid)


def _definitions(element: XmlElement) -> list[XmlElement]:
    return [child for child in bpmn_children(element) if local(child) in EVENT_DEFINITIONS]


def _event_check(
    ctx: ParseContext, element: XmlElement, eid: str, *, io_allowed: bool = False
) -> list[XmlElement]:
    ctx.check_children(element, eid, EVENT_DEFINITIONS)
    ctx.check_extensions(element, eid, io_allowed=io_allowed)
    return _definitions(element)


def start_event(
    ctx: ParseContext, element: XmlElement, eid: str, scope: str | None
) -> Element | None:
    """A none start event; on a process also a timer, message or signal start event; in an
    event sub-process an error, message or timer start event (``_event_start``)."""
    definitions = _event_check(ctx, element, eid)
    if scope in ctx.event_scopes:
        return _event_start(ctx, element, eid, scope, definitions)
    name = attr(element, "name")
    if not definitions:
        return StartEvent(id=eid, name=name, scope_id=scope)
    kind = local(definitions[0]) if len(definitions) == 1 else "several event definitions"
    if scope is not None or kind not in _START_KINDS:
        where = "a sub-process" if scope is not None else "a process"
        message = f"Start event '{eid}' with {kind} is not supported on {where}"
        ctx.problem(message, element, eid)
        return None
    if kind == "timerEventDefinition":
        timer = ctx.timer(definitions[0], element, eid)
        if timer is not None and not isinstance(timer.value, str):
            message = f"Timer start event '{eid}' has an expression (not supported)"
            ctx.problem(message, element, eid)
            return None
        return None if timer is None else StartEvent(id=eid, name=name, timer=timer)
    if kind == "messageEventDefinition":
        message_name = ctx.message_name(definitions[0], element, eid)
        return (
            None
            if message_name is None
            else StartEvent(id=eid, name=name, message_name=message_name)
        )
    signal_name = ctx.signal_name(definitions[0], element, eid)
    return None if signal_name is None else StartEvent(id=eid, name=name, signal_name=signal_name)


_START_KINDS = frozenset(
    {"timerEventDefinition", "messageEventDefinition", "signalEventDefinition"}
)


def _event_start(
    ctx: ParseContext,
    element: XmlElement,
    eid: str,
    scope: str | None,
    definitions: list[XmlElement],
) -> Element | None:
    """The start event of an event sub-process: error, message or timer."""
    kind = local(definitions[0]) if len(definitions) == 1 else ""
    interrupting = attr(element, "isInterrupting") in (None, "true")
    event = EventStartEvent(
        id=eid, name=attr(element, "name"), scope_id=scope, kind="error", interrupting=interrupting
    )
    if kind == "errorEventDefinition":
        if not interrupting:
            message = "Error start event of event subprocess must be interrupting."
            ctx.problem(message, element, eid)
            return None
        ref = attr(definitions[0], "errorRef")
        return replace(
            event,
            error_code=ctx.error_code(ref) if ref else None,
            error_code_variable=camunda_attr(definitions[0], "errorCodeVariable"),
            error_message_variable=camunda_attr(definitions[0], "errorMessageVariable"),
        )
    if kind == "messageEventDefinition":
        name = ctx.message_name(definitions[0], element, eid)
        return None if name is None else replace(event, kind="message", message_name=name)
    if kind == "timerEventDefinition":
        timer = ctx.timer(definitions[0], element, eid)
        return None if timer is None else replace(event, kind="timer", timer=timer)
    what = kind or "no event definition"
    message = (
        f"Start event '{eid}' of event sub-process '{scope}' with {what} is not supported: "
        "only error, message and timer are"
    )
    ctx.problem(message, element, eid)
    return None


def _message_throw(
    ctx: ParseContext,
    definition: XmlElement,
    element: XmlElement,
    eid: str,
    scope: str | None,
    task_type: TaskType,
) -> Element | None:
    """A message throw or end event that names an implementation (Camunda's isServiceTaskLike):
    ``camunda:type="external"`` makes it an external task; anything else is refused."""
    camunda_type = camunda_attr(definition, "type")
    if camunda_type is not None and camunda_type.lower() == "external":
        return service_task_like(ctx, definition, element, eid, scope, task_type)
    if camunda_type is not None:
        message = f"Invalid usage of type attribute on {task_type}: '{camunda_type}'"
    else:
        message = (
            f"{task_type} '{eid}' with a Java class or expression is not supported: only "
            'camunda:type="external" is'
        )
    ctx.problem(message, element, eid)
    return None


def _service_like(definition: XmlElement) -> bool:
    return any(camunda_attr(definition, name) is not None for name in _SERVICE_LIKE)


def end_event(
    ctx: ParseContext, element: XmlElement, eid: str, scope: str | None
) -> Element | None:
    definitions = _event_check(ctx, element, eid, io_allowed=True)
    kind = local(definitions[0]) if len(definitions) == 1 else ""
    name = attr(element, "name")
    inputs, outputs = io_mappings(ctx, element, eid)
    if outputs:
        message = "camunda:outputParameter not allowed for element type 'endEvent'."
        ctx.problem(message, element, eid)
    end = EndEvent(id=eid, name=name, scope_id=scope, inputs=inputs)
    if not definitions:
        return end
    if kind == "terminateEventDefinition":
        return replace(end, terminate=True)
    if kind == "messageEventDefinition":
        if _service_like(definitions[0]):
            return _message_throw(ctx, definitions[0], element, eid, scope, "messageEndEvent")
        return replace(end, plain_message=True)  # Camunda: no behaviour, the path ends
    if kind == "signalEventDefinition":
        signal = _throwing_signal(ctx, definitions[0], element, eid)
        return None if signal is None else replace(end, signal_name=signal)
    if kind == "errorEventDefinition":
        ref = attr(definitions[0], "errorRef")
        if not ref:
            ctx.problem("'errorRef' attribute is mandatory on error end event", element, eid)
            return None
        code = ctx.error_code(ref)
        if not code:
            message = (
                "'errorCode' is mandatory on errors referenced by throwing error event "
                f"definitions, but the error '{ref}' does not define one."
            )
            ctx.problem(message, element, eid)
            return None
        return replace(end, error_code=code)
    what = kind or "several event definitions"
    ctx.problem(f"End event '{eid}' with {what} is not supported", element, eid)
    return None


def _throwing_signal(
    ctx: ParseContext, definition: XmlElement, element: XmlElement, eid: str
) -> str | None:
    """The signal a throw event broadcasts; a payload (``camunda:in``) is refused."""
    if any(True for _ in extensions(definition, "in")):
        message = f"The signal payload (camunda:in) of '{eid}' is not supported"
        ctx.problem(message, element, eid)
        return None
    return ctx.signal_name(definition, element, eid)


def throw_event(
    ctx: ParseContext, element: XmlElement, eid: str, scope: str | None
) -> Element | None:
    definitions = _event_check(ctx, element, eid, io_allowed=True)
    kind = local(definitions[0]) if len(definitions) == 1 else ""
    inputs, outputs = io_mappings(ctx, element, eid)
    event = IntermediateThrowEvent(
        id=eid, name=attr(element, "name"), scope_id=scope, inputs=inputs, outputs=outputs
    )
    if not definitions:
        return event
    if kind == "messageEventDefinition":
        if _service_like(definitions[0]):
            task_type: TaskType = "intermediateMessageThrowEvent"
            return _message_throw(ctx, definitions[0], element, eid, scope, task_type)
        return event  # Camunda: no behaviour, a none throw event
    if kind == "signalEventDefinition":
        signal = _throwing_signal(ctx, definitions[0], element, eid)
        return None if signal is None else replace(event, signal_name=signal)
    what = kind or "several event definitions"
    message = f"Intermediate throw event '{eid}' with {what} is not supported"
    ctx.problem(message, element, eid)
    return None


def boundary_event(
    ctx: ParseContext, element: XmlElement, eid: str, scope: str | None
) -> Element | None:
    definitions = _event_check(ctx, element, eid)
    attached = attr(element, "attachedToRef")
    kind = local(definitions[0]) if len(definitions) == 1 else ""
    if not attached:
        message = "AttachedToRef is required when using a timerEventDefinition"  # any kind
        ctx.problem(message, element, eid)
        return None
    interrupting = attr(element, "cancelActivity") in (None, "true")  # as Camunda
    event = BoundaryEvent(
        id=eid,
        name=attr(element, "name"),
        scope_id=scope,
        attached_to=attached,
        kind="error",
        cancel_activity=interrupting,
    )
    if kind == "errorEventDefinition":
        ref = attr(definitions[0], "errorRef")
        return replace(
            event,
            cancel_activity=True,  # error boundary events always interrupt
            error_code=ctx.error_code(ref) if ref else None,
            error_code_variable=camunda_attr(definitions[0], "errorCodeVariable"),
            error_message_variable=camunda_attr(definitions[0], "errorMessageVariable"),
        )
    if kind == "timerEventDefinition":
        timer = ctx.timer(definitions[0], element, eid)
        if timer is None:
            return None
        return replace(event, kind="timer", timer=timer)
    if kind in _NAMED:
        name = _event_name(ctx, kind, definitions[0], element, eid)
        return None if name is None else replace(event, kind=_NAMED[kind], event_name=name)
    what = kind or "no single event definition"
    message = (
        f"Boundary event '{eid}' with {what} is not supported: only error, timer, message and "
        "signal are"
    )
    ctx.problem(message, element, eid)
    return None


def catch_event(
    ctx: ParseContext, element: XmlElement, eid: str, scope: str | None
) -> Element | None:
    definitions = _event_check(ctx, element, eid, io_allowed=True)
    kind = local(definitions[0]) if len(definitions) == 1 else ""
    inputs, outputs = io_mappings(ctx, element, eid)
    event = IntermediateCatchEvent(
        id=eid,
        name=attr(element, "name"),
        scope_id=scope,
        kind="timer",
        inputs=inputs,
        outputs=outputs,
    )
    if kind == "timerEventDefinition":
        timer = ctx.timer(definitions[0], element, eid)
        return None if timer is None else replace(event, timer=timer)
    if kind in _NAMED:
        name = _event_name(ctx, kind, definitions[0], element, eid)
        if name is None:
            return None
        if kind == "messageEventDefinition":
            return replace(event, kind="message", message_name=name)
        return replace(event, kind="signal", signal_name=name)
    what = kind or "no single event definition"
    message = (
        f"Intermediate catch event '{eid}' with {what} is not supported: only timer, message and "
        "signal are"
    )
    ctx.problem(message, element, eid)
    return None


HANDLERS: dict[str, Handler] = {
    "startEvent": start_event,
    "endEvent": end_event,
    "boundaryEvent": boundary_event,
    "intermediateCatchEvent": catch_event,
    "intermediateThrowEvent": throw_event,
}


def event_gateway_problems(
    node: Element,
    ins: tuple[str, ...],
    outs: tuple[str, ...],
    flows: Mapping[str, SequenceFlow],
    seen: Mapping[str, tuple[str | None, str]],
    nodes: Mapping[str, Element],
    lines: Mapping[str, int],
) -> list[Problem]:
    """BpmnParse's rules: an event-based gateway leads to intermediate catch events only, and
    such an event has no other incoming flow. ``seen``: every flow node's (scope, BPMN type);
    ``lines``: the line of each node and flow."""
    problems = []
    if isinstance(node, EventBasedGateway):
        targets = [seen[flows[f].target][1] for f in outs]
        if any(kind != "intermediateCatchEvent" for kind in targets):
            message = (
                "Event based gateway can only be connected to elements of type "
                "intermediateCatchEvent"
            )
            problems.append(Problem(message, lines.get(node.id, 0), 0, node.id, (node.id,)))
    from_gateway = [isinstance(nodes.get(flows[f].source), EventBasedGateway) for f in ins]
    for flow_id, gateway in zip(ins, from_gateway, strict=True):
        if any(from_gateway) and not gateway:
            message = (
                f"Invalid incoming sequenceflow for intermediateCatchEvent with id "
                f"'{node.id}' connected to an event-based gateway."
            )
            problems.append(Problem(message, lines.get(flow_id, 0), 0, flow_id, (flow_id,)))
    return problems
