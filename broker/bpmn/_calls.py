"""Parsing of ``bpmn:callActivity`` (Camunda's BpmnParse#parseCallActivity), strict validation.

Supported: ``calledElement`` (constant or ``${...}``), ``camunda:calledElementBinding`` (latest,
deployment, version, versionTag) with ``camunda:calledElementVersion`` /
``camunda:calledElementVersionTag`` / ``camunda:calledElementTenantId``, ``camunda:in`` and
``camunda:out`` (``source``, ``sourceExpression``, ``target``, ``variables="all"``, ``local``,
and ``businessKey`` on an in), ``camunda:inputOutput`` and ``multiInstanceLoopCharacteristics``
(one called instance per instance). Refused with a problem naming the
element: ``camunda:caseRef`` (CMMN) and variable mapping classes or delegate expressions.
"""

from __future__ import annotations

from typing import cast

from redtask.broker.bpmn._context import ParseContext
from redtask.broker.bpmn._loops import loop_characteristics
from redtask.broker.bpmn._xml import XmlElement, attr, camunda_attr, extensions
from redtask.broker.bpmn.expressions import Expression, ExpressionError
from redtask.broker.bpmn.model import Binding, CallActivity, CallParameter, Element, IoParameter

_BINDINGS = ("latest", "deployment", "version", "versionTag")


def call_activity(
    ctx: ParseContext,
    element: XmlElement,
    eid: str,
    scope: str | None,
    io: tuple[tuple[IoParameter, ...], tuple[IoParameter, ...]],
) -> Element | None:
    """The call activity, or None after recording its problems. ``io``: its inputOutput."""
    for unsupported in ("caseRef", "variableMappingClass", "variableMappingDelegateExpression"):
        if camunda_attr(element, unsupported) is not None:
            ctx.problem(f"camunda:{unsupported} on '{eid}' is not supported", element, eid)
            return None
    called = attr(element, "calledElement")
    if called is None:
        ctx.problem("Missing attribute 'calledElement' or 'caseRef'", element, eid)
        return None
    raw_binding = camunda_attr(element, "calledElementBinding")
    binding = cast(Binding, raw_binding if raw_binding in _BINDINGS else "latest")
    values = {}
    for name in ("Version", "VersionTag", "TenantId"):
        raw = camunda_attr(element, "calledElement" + name)
        if raw is None and binding == name[0].lower() + name[1:]:
            message = (
                f"Missing attribute 'calledElement{name}' when 'calledElementBinding' has value "
                f"'{binding}'"
            )
            ctx.problem(message, element, eid)
            return None
        values[name] = ctx.value(raw, element, eid, f"camunda:calledElement{name}") if raw else None
    key = ctx.value(called, element, eid, "calledElement")
    ins, business_key = _parameters(ctx, element, eid, "in")
    outs, _ = _parameters(ctx, element, eid, "out")
    if key is None or ins is None or outs is None:
        return None
    return CallActivity(
        id=eid,
        name=attr(element, "name"),
        scope_id=scope,
        called_element=key,
        binding=binding,
        version=values["Version"],
        version_tag=values["VersionTag"],
        tenant_id=values["TenantId"],
        business_key=business_key,
        ins=ins,
        outs=outs,
        inputs=io[0],
        outputs=io[1],
        loop=loop_characteristics(ctx, element, eid),
    )


def _parameters(
    ctx: ParseContext, element: XmlElement, eid: str, kind: str
) -> tuple[tuple[CallParameter, ...] | None, str | Expression | None]:
    """The ``camunda:in`` or ``camunda:out`` parameters and the business key (in only)."""
    found: list[CallParameter] = []
    business_key: str | Expression | None = None
    ok = True
    for param in extensions(element, kind):
        local = attr(param, "local") == "true"
        key = attr(param, "businessKey") if kind == "in" else None
        if key:
            business_key = ctx.value(key, param, eid, "businessKey")
            ok = ok and business_key is not None
            continue
        if attr(param, "variables") == "all":
            found.append(CallParameter(all=True, local=local))
            continue
        parameter = _parameter(ctx, param, eid, local)
        ok = ok and parameter is not None
        if parameter is not None:
            found.append(parameter)
    return (tuple(found) if ok else None), business_key


def _parameter(ctx: ParseContext, param: XmlElement, eid: str, local: bool) -> CallParameter | None:
    source, expression = attr(param, "source"), attr(param, "sourceExpression")
    target = attr(param, "target")
    if source == "":
        message = "Empty attribute 'source' when passing variables"
    elif source is None and expression == "":
        message = "Empty attribute 'sourceExpression' when passing variables"
    elif source is None and expression is None:
        message = "Missing parameter 'source' or 'sourceExpression' when passing variables"
    elif target is None:
        message = "Missing attribute 'target' when attribute 'source' or 'sourceExpression' is set"
    elif target == "":
        message = "Empty attribute 'target' when attribute 'source' or 'sourceExpression' is set"
    else:
        parsed = None
        if source is None:
            try:
                parsed = Expression.parse(expression or "")
            except ExpressionError as exc:
                ctx.problem(f"Invalid sourceExpression on '{eid}': {exc}", param, eid)
                return None
        return CallParameter(source=source, source_expression=parsed, target=target, local=local)
    ctx.problem(message, param, eid)
    return None
