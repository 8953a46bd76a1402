"""Parsing of an activity's ``multiInstanceLoopCharacteristics`` (BpmnParse#
parseMultiInstanceLoopCharacteristics): the same attributes, children and validation problems."""

from __future__ import annotations

from redtask.broker.bpmn._context import ParseContext
from redtask.broker.bpmn._xml import XmlElement, attr, bpmn_children, camunda_attr, text
from redtask.broker.bpmn.expressions import Expression
from redtask.broker.bpmn.model import LoopCharacteristics

MULTI_INSTANCE = "multiInstanceLoopCharacteristics"
_TRUE = frozenset({"true", "enabled", "on", "active", "yes"})  # Camunda's parseBooleanAttribute


def _source(raw: str) -> str | Expression | None:
    """A collection reference: a variable name, or an expression when it holds a ``{``."""
    return raw if "{" not in raw else Expression.parse(raw)


def loop_characteristics(
    ctx: ParseContext, activity: XmlElement, eid: str
) -> LoopCharacteristics | None:
    """The activity's multi-instance characteristics; None without any (or after a problem)."""
    found = list(bpmn_children(activity, MULTI_INSTANCE))
    if not found:
        return None
    loop = found[0]
    where = f"{eid}#multiInstanceBody"
    cardinality: str | Expression | None = None
    for element in bpmn_children(loop, "loopCardinality"):
        raw = text(element)
        if not raw:
            message = "loopCardinality must be defined for a multiInstanceLoopCharacteristics "
            ctx.problem(message + "definition ", loop, where)
        cardinality = ctx.value(raw, element, eid, "loopCardinality")
    condition: str | Expression | None = None
    for element in bpmn_children(loop, "completionCondition"):
        condition = ctx.value(text(element), element, eid, "completionCondition")
    collection: str | Expression | None = None
    raw_collection = camunda_attr(loop, "collection")
    for element in bpmn_children(loop, "loopDataInputRef"):
        raw_collection = text(element)  # Camunda reads it after camunda:collection
    if raw_collection is not None:
        collection = ctx.value(raw_collection, loop, eid, "collection")
        if isinstance(collection, str):
            collection = _source(raw_collection)
    element_variable = camunda_attr(loop, "elementVariable")
    for element in bpmn_children(loop, "inputDataItem"):
        element_variable = attr(element, "name")
    if cardinality is None and collection is None:
        message = "Either loopCardinality or loopDataInputRef/activiti:collection must be set"
        ctx.problem(message, loop, where)
    if collection is None and element_variable is not None:
        message = (
            "LoopDataInputRef/activiti:collection must be set when using inputDataItem or "
            "activiti:elementVariable"
        )
        ctx.problem(message, loop, where)
    return LoopCharacteristics(
        sequential=(attr(loop, "isSequential") or "false") in _TRUE,
        cardinality=cardinality,
        collection=collection,
        element_variable=element_variable,
        completion_condition=condition,
    )
