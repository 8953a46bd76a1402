"""Between Camunda typed values and the plain values expressions see.

Expressions see each variable's ``value``; ``Json`` values (and ``Object`` values serialized as
``application/json``) are parsed, so ``${customer.id}`` reads a JSON object's field. A mapping
whose text is one bare variable (``${customer}``) copies that variable's typed value unchanged;
any other result is typed as JUEL's result would be: an integer literal or integer arithmetic
gives a Long (``${1}``), an Integer variable's value read through an expression stays an
Integer; other results are Double, Boolean, String or Null, with mappings and lists stored as
``Json``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from redtask.broker.bpmn import Expression, ExpressionError, SequenceFlow
from redtask.broker.bpmn._evaluate import JavaLong
from redtask.broker.engine.errors import EvaluationError
from redtask.broker.engine.state import TypedValue

_BARE_VARIABLE = re.compile(r"[$#]\{\s*([^\W\d][\w$]*)\s*\}")
_KEYWORDS = {"true", "false", "null", "empty", "not", "and", "or", "eq", "ne", "lt", "gt"}
_KEYWORDS |= {"le", "ge", "div", "mod", "instanceof"}
_LONG = (-(2**63), 2**63 - 1)


def plain(typed: Mapping[str, Any]) -> Any:
    """The value an expression sees for a typed variable."""
    value = typed.get("value")
    info = typed.get("valueInfo") or {}
    is_json = typed.get("type") == "Json" or (
        typed.get("type") == "Object" and info.get("serializationDataFormat") == "application/json"
    )
    if typed.get("type") == "Long" and isinstance(value, int):
        return JavaLong(value)
    if is_json and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def typed(value: Any) -> TypedValue:
    """The typed value for an expression result. Raises ExpressionError for a value Camunda
    could not store (a number outside Long or a non-finite Double)."""
    if value is None:
        return {"type": "Null", "value": None, "valueInfo": {}}
    if isinstance(value, bool):
        return {"type": "Boolean", "value": value, "valueInfo": {}}
    if isinstance(value, int):
        if not _LONG[0] <= value <= _LONG[1]:
            raise ExpressionError(f"Result {value} does not fit a java.lang.Long")
        small = -(2**31) <= value < 2**31 and not isinstance(value, JavaLong)
        return {"type": "Integer" if small else "Long", "value": int(value), "valueInfo": {}}
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExpressionError(f"Result {value} is not a finite java.lang.Double")
        return {"type": "Double", "value": value, "valueInfo": {}}
    if isinstance(value, Mapping | list | tuple):
        text = json.dumps(value, separators=(",", ":"), default=str)
        return {"type": "Json", "value": text, "valueInfo": {}}
    return {"type": "String", "value": str(value), "valueInfo": {}}


def evaluate_typed(
    value: str | Expression | None, variables: Mapping[str, TypedValue]
) -> TypedValue:
    """The typed value of an input/output parameter. Raises ExpressionError."""
    if value is None:
        return typed(None)
    if isinstance(value, str):
        return typed(value)
    bare = _BARE_VARIABLE.fullmatch(value.text.strip())
    if bare is not None and bare[1] not in _KEYWORDS and bare[1] in variables:
        return dict(variables[bare[1]])
    return typed(value.evaluate(plain_values(variables)))


def plain_values(variables: Mapping[str, TypedValue]) -> dict[str, Any]:
    """The mapping expressions are evaluated against."""
    return {name: plain(value) for name, value in variables.items()}


def holds(element_id: str, flow: SequenceFlow, values: Mapping[str, Any]) -> bool:
    """Whether a flow's condition holds. Raises EvaluationError naming the flow and element."""
    assert flow.condition is not None
    try:
        return flow.condition.evaluate_condition(values)
    except ExpressionError as exc:
        raise EvaluationError(element_id, f"the condition of flow '{flow.id}'", exc) from None


def evaluate(element_id: str, what: str, value: Any, values: Mapping[str, Any]) -> Any:
    """An attribute's value (expressions evaluated). Raises EvaluationError."""
    if not isinstance(value, Expression):
        return value
    try:
        return value.evaluate(values)
    except ExpressionError as exc:
        raise EvaluationError(element_id, what, exc) from None


def mapped(
    element_id: str, name: str, value: str | Expression | None, variables: Mapping[str, TypedValue]
) -> TypedValue:
    """An input/output parameter's typed value. Raises EvaluationError naming it."""
    try:
        return evaluate_typed(value, variables)
    except ExpressionError as exc:
        raise EvaluationError(element_id, f"the parameter '{name}'", exc) from None
