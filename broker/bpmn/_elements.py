"""Parsing of single BPMN flow nodes and their Camunda extensions into model objects.

Each handler returns the node, or None after recording a Problem when the node cannot be modelled.
Sub-processes, sequence flows and cross-references are handled by :mod:`broker.bpmn.parser`.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

from redtask.broker.bpmn._context import ParseContext
from redtask.broker.bpmn._loops import loop_characteristics
from redtask.broker.bpmn._xml import (
    CAMUNDA_NS,
    XmlElement,
    attr,
    camunda_attr,
    camunda_children,
    extensions,
    local,
    split,
    text,
)
from redtask.broker.bpmn.expressions import Expression
from redtask.broker.bpmn.model import (
    Element,
    ErrorEventDefinition,
    EventBasedGateway,
    ExclusiveGateway,
    ExternalTask,
    InclusiveGateway,
    IoParameter,
    ParallelGateway,
    ReceiveTask,
    TaskType,
)

_TASK_TYPES: dict[str, TaskType] = {
    "serviceTask": "serviceTask",
    "sendTask": "sendTask",
    "businessRuleTask": "businessRuleTask",
}


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
    return service_task_like(ctx, element, element, eid, scope, task_type)


def service_task_like(
    ctx: ParseContext,
    definition: XmlElement,
    element: XmlElement,
    eid: str,
    scope: str | None,
    task_type: TaskType,
) -> ExternalTask | None:
    """An external task whose ``camunda:topic``, ``taskPriority`` and
    ``camunda:errorEventDefinition`` are on ``definition`` and whose properties and mappings are
    on ``element`` (BpmnParse#parseServiceTaskLike: the same element for a task, the
    ``messageEventDefinition`` of a message throw or end event)."""
    raw_topic = camunda_attr(definition, "topic")
    topic = ctx.value(raw_topic, definition, eid, "camunda:topic") if raw_topic else None
    if not raw_topic:
        message = "External tasks must specify a 'topic' attribute in the camunda namespace"
        ctx.problem(message, element, eid)
    priority = ctx.priority(camunda_attr(definition, "taskPriority"), element, eid)
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
        error_event_definitions=_error_definitions(ctx, definition, eid),
        loop=loop_characteristics(ctx, element, eid),
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
    if local(element) == "eventBasedGateway":
        return EventBasedGateway(id=eid, name=name, scope_id=scope)
    kind = ExclusiveGateway if local(element) == "exclusiveGateway" else InclusiveGateway
    return kind(id=eid, name=name, scope_id=scope, default_flow=default)


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
        loop=loop_characteristics(ctx, element, eid),
    )


Handler = Callable[[ParseContext, XmlElement, str, str | None], Element | None]
HANDLERS: dict[str, Handler] = {
    "serviceTask": external_task,
    "sendTask": external_task,
    "businessRuleTask": external_task,
    "exclusiveGateway": gateway,
    "inclusiveGateway": gateway,
    "parallelGateway": gateway,
    "eventBasedGateway": gateway,
    "receiveTask": receive_task,
}
