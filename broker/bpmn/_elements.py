"""Parsing of single BPMN flow nodes and their Camunda extensions into model objects.

Each handler returns the node, or None after recording a Problem when the node cannot be modelled.
Sub-processes, sequence flows and cross-references are handled by :mod:`broker.bpmn.parser`.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Literal

from redtask.broker.bpmn._context import EVENT_DEFINITIONS, ParseContext
from redtask.broker.bpmn._xml import (
    CAMUNDA_NS,
    XmlElement,
    attr,
    bpmn_children,
    camunda_attr,
    camunda_children,
    extensions,
    local,
    split,
    text,
)
from redtask.broker.bpmn.expressions import Expression
from redtask.broker.bpmn.model import (
    BoundaryEvent,
    Element,
    EndEvent,
    ErrorEventDefinition,
    ExclusiveGateway,
    ExternalTask,
    InclusiveGateway,
    IntermediateCatchEvent,
    IoParameter,
    ParallelGateway,
    ReceiveTask,
    StartEvent,
)

_TASK_TYPES: dict[str, Literal["serviceTask", "sendTask", "businessRuleTask"]] = {
    "serviceTask": "serviceTask",
    "sendTask": "sendTask",
    "businessRuleTask": "businessRuleTask",
}


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
    """A none start event; on a process also a timer, message or signal start event."""
    definitions = _event_check(ctx, element, eid)
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
    if not definitions:
        return EndEvent(id=eid, name=name, scope_id=scope, inputs=inputs)
    if kind == "terminateEventDefinition":
        return EndEvent(id=eid, name=name, scope_id=scope, terminate=True, inputs=inputs)
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
        return EndEvent(id=eid, name=name, scope_id=scope, error_code=code, inputs=inputs)
    what = kind or "several event definitions"
    ctx.problem(f"End event '{eid}' with {what} is not supported", element, eid)
    return None


def external_task(
    ctx: ParseContext, element: XmlElement, eid: str, scope: str | None
) -> Element | None:
    task_type = _TASK_TYPES[local(element)]
    camunda_type = camunda_attr(element, "type")
    if camunda_type is None or camunda_type.lower() != "external":
        message = f"{task_type} '{eid}' is not supported: only camunda:type=\"external\" is"
        ctx.problem(message, element, eid)
        return None
    ctx.check_activity(element, eid, io_allowed=True)
    raw_topic = camunda_attr(element, "topic")
    topic = ctx.value(raw_topic, element, eid, "camunda:topic") if raw_topic else None
    if not raw_topic:
        message = "External tasks must specify a 'topic' attribute in the camunda namespace"
        ctx.problem(message, element, eid)
    priority = ctx.priority(camunda_attr(element, "taskPriority"), element, eid)
    properties: dict[str, str | None] = {}
    for container in extensions(element, "properties"):
        for prop in camunda_children(container, "property"):
            name = attr(prop, "name")
            # Camunda keeps a property without a name under a null key, which its REST layer
            # cannot write as JSON: such a property deploys and is left out
            if name is not None:
                properties[name] = attr(prop, "value")
    if topic is None:
        return None
    inputs, outputs = io_mappings(ctx, element, eid)
    return ExternalTask(
        id=eid,
        name=attr(element, "name"),
        scope_id=scope,
        task_type=task_type,
        topic=topic,
        priority=priority,
        inputs=inputs,
        outputs=outputs,
        extension_properties=MappingProxyType(properties),
        error_event_definitions=_error_definitions(ctx, element, eid),
    )


def io_mappings(
    ctx: ParseContext, element: XmlElement, eid: str
) -> tuple[tuple[IoParameter, ...], tuple[IoParameter, ...]]:
    """The ``camunda:inputOutput`` parameters of an activity: (inputs, outputs)."""
    found: dict[str, list[IoParameter]] = {"inputParameter": [], "outputParameter": []}
    for mapping in extensions(element, "inputOutput"):
        for param in mapping:
            namespace, kind = split(param)
            name = attr(param, "name")
            nested = [split(child)[1] for child in param if split(child)[0] in CAMUNDA_NS]
            if namespace not in CAMUNDA_NS or kind not in found:
                ctx.problem(f"Unsupported <{kind}> in camunda:inputOutput of '{eid}'", param, eid)
            elif not name:
                ctx.problem(f"A camunda:{kind} of '{eid}' has no name", param, eid)
            elif nested:
                message = (
                    f"camunda:{kind} '{name}' of '{eid}' uses <camunda:{nested[0]}>, which is "
                )
                ctx.problem(message + "not supported: use text or an ${...} expression", param, eid)
            else:
                raw = text(param)
                value = ctx.value(raw, param, eid, f"camunda:{kind} '{name}'") if raw else None
                found[kind].append(IoParameter(name, value))
    return tuple(found["inputParameter"]), tuple(found["outputParameter"])


def _error_definitions(
    ctx: ParseContext, element: XmlElement, eid: str
) -> tuple[ErrorEventDefinition, ...]:
    result = []
    for definition in extensions(element, "errorEventDefinition"):
        ref = attr(definition, "errorRef")
        if not ref:
            continue  # Camunda keeps only definitions with an errorRef
        raw = (attr(definition, "expression") or "").strip()
        expression = ctx.value(raw, definition, eid, "error event expression") if raw else None
        if isinstance(expression, str):
            message = f"The camunda:errorEventDefinition expression of '{eid}' must be ${{...}}"
            ctx.problem(message, definition, eid)
        result.append(
            ErrorEventDefinition(
                id=attr(definition, "id"),
                error_code=ctx.error_code(ref),
                expression=expression if isinstance(expression, Expression) else None,
                error_code_variable=camunda_attr(definition, "errorCodeVariable"),
                error_message_variable=camunda_attr(definition, "errorMessageVariable"),
            )
        )
    return tuple(result)


def gateway(ctx: ParseContext, element: XmlElement, eid: str, scope: str | None) -> Element | None:
    ctx.check_children(element, eid, frozenset())
    ctx.check_extensions(element, eid, io_allowed=False)
    name, default = attr(element, "name"), attr(element, "default")
    if local(element) == "parallelGateway":
        return ParallelGateway(id=eid, name=name, scope_id=scope)
    kind = ExclusiveGateway if local(element) == "exclusiveGateway" else InclusiveGateway
    return kind(id=eid, name=name, scope_id=scope, default_flow=default)


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
    name = attr(element, "name")
    if kind == "errorEventDefinition":
        ref = attr(definitions[0], "errorRef")
        return BoundaryEvent(
            id=eid,
            name=name,
            scope_id=scope,
            attached_to=attached,
            kind="error",
            cancel_activity=True,  # error boundary events always interrupt
            error_code=ctx.error_code(ref) if ref else None,
            error_code_variable=camunda_attr(definitions[0], "errorCodeVariable"),
            error_message_variable=camunda_attr(definitions[0], "errorMessageVariable"),
        )
    if kind == "timerEventDefinition":
        timer = ctx.timer(definitions[0], element, eid)
        if timer is None:
            return None
        return BoundaryEvent(
            id=eid,
            name=name,
            scope_id=scope,
            attached_to=attached,
            kind="timer",
            cancel_activity=attr(element, "cancelActivity") in (None, "true"),  # as Camunda
            timer=timer,
        )
    what = kind or "no single event definition"
    message = f"Boundary event '{eid}' with {what} is not supported: only error and timer are"
    ctx.problem(message, element, eid)
    return None


def catch_event(
    ctx: ParseContext, element: XmlElement, eid: str, scope: str | None
) -> Element | None:
    definitions = _event_check(ctx, element, eid, io_allowed=True)
    kind = local(definitions[0]) if len(definitions) == 1 else ""
    name = attr(element, "name")
    inputs, outputs = io_mappings(ctx, element, eid)
    if kind == "timerEventDefinition":
        timer = ctx.timer(definitions[0], element, eid)
        if timer is None:
            return None
        return IntermediateCatchEvent(
            id=eid,
            name=name,
            scope_id=scope,
            kind="timer",
            timer=timer,
            inputs=inputs,
            outputs=outputs,
        )
    if kind == "messageEventDefinition":
        message_name = ctx.message_name(definitions[0], element, eid)
        if message_name is None:
            return None
        return IntermediateCatchEvent(
            id=eid,
            name=name,
            scope_id=scope,
            kind="message",
            message_name=message_name,
            inputs=inputs,
            outputs=outputs,
        )
    what = kind or "no single event definition"
    message = (
        f"Intermediate catch event '{eid}' with {what} is not supported: only timer and message are"
    )
    ctx.problem(message, element, eid)
    return None


def receive_task(
    ctx: ParseContext, element: XmlElement, eid: str, scope: str | None
) -> Element | None:
    ctx.check_activity(element, eid, io_allowed=True)
    inputs, outputs = io_mappings(ctx, element, eid)
    message_name = None
    if attr(element, "messageRef"):  # without one, it waits to be signalled (as Camunda)
        message_name = ctx.message_name(element, element, eid)
        if message_name is None:
            return None
    return ReceiveTask(
        id=eid,
        name=attr(element, "name"),
        scope_id=scope,
        message_name=message_name,
        inputs=inputs,
        outputs=outputs,
    )


Handler = Callable[[ParseContext, XmlElement, str, str | None], Element | None]
HANDLERS: dict[str, Handler] = {
    "startEvent": start_event,
    "endEvent": end_event,
    "serviceTask": external_task,
    "sendTask": external_task,
    "businessRuleTask": external_task,
    "exclusiveGateway": gateway,
    "inclusiveGateway": gateway,
    "parallelGateway": gateway,
    "boundaryEvent": boundary_event,
    "intermediateCatchEvent": catch_event,
    "receiveTask": receive_task,
}
