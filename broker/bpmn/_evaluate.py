"""Evaluation of expression trees with the Unified EL specification's coercion rules
(JSR-245, sections 1.8 to 1.10).

What the EL spec says, and we do: ``null`` is 0 in arithmetic, false in logic and "" in text;
``+ - * %`` work on integers unless an operand is a float or a string holding ``.``/``e``/``E``;
``/`` always divides as floats (``5 / 2`` is 2.5); ``==`` coerces both sides to the "largest"
type present (float, then integer, then boolean, then string), so ``5 == '5'`` is true and
``5 == 'abc'`` is an error, as in JUEL; ``<`` etc. compare numbers numerically and strings
lexically; a missing key of a mapping and an index out of range read as null.

Deviations, on purpose: integers are Python ints (no 64-bit wrap-around); division or modulo by
zero is an ExpressionError (JUEL gives Infinity/NaN for floats); floats render as Python's repr
inside composite text (``1e+20`` where Java writes ``1.0E20``); only the read-only methods in
``_STRING_METHODS`` and the mapping/list methods below can be called, and ``getFoo()`` on a
mapping reads its key ``foo`` (JavaBean getter style, e.g. ``externalTask.getErrorDetails()``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from redtask.broker.bpmn._nodes import (
    Binary,
    Call,
    ExpressionError,
    Identifier,
    Literal,
    Node,
    Property,
    Ternary,
    Unary,
)

MAX_TEXT = 4 * 1024 * 1024
"""Most characters an expression's text result may have: composite text (``${a}${a}...``) is
refused before it is built, so one condition cannot make the gateway allocate without bound."""
_LONG = re.compile(r"[+-]?\d+")
# ``\d+(?:\.\d*)?``, not ``\d+\.?\d*``: two adjacent digit runs make a failed match on client
# text quadratic (a 10,000-digit "1...1e" took 5 s)
_DOUBLE = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*")


class JavaLong(int):
    """An integer JUEL holds as a java.lang.Long: an integer literal, the result of integer
    arithmetic, the value of a Long variable. Other integers (an Integer variable, a number read
    from JSON, a ``size()``) keep their own type, which a typed result follows."""

    __slots__ = ()


def _long(value: Any) -> Any:
    return JavaLong(value) if isinstance(value, int) and not isinstance(value, bool) else value


_JAVA_CLASSES = {
    bool: "java.lang.Boolean",
    int: "java.lang.Integer",
    JavaLong: "java.lang.Long",
    float: "java.lang.Double",
    str: "java.lang.String",
}
_STRING_METHODS: dict[tuple[str, int], Callable[..., Any]] = {
    ("contains", 1): lambda s, a: to_string(a) in s,
    ("startsWith", 1): lambda s, a: s.startswith(to_string(a)),
    ("endsWith", 1): lambda s, a: s.endswith(to_string(a)),
    ("equals", 1): lambda s, a: isinstance(a, str) and s == a,
    ("equalsIgnoreCase", 1): lambda s, a: isinstance(a, str) and s.lower() == a.lower(),
    ("indexOf", 1): lambda s, a: s.find(to_string(a)),
    ("isEmpty", 0): lambda s: not s,
    ("length", 0): len,
    ("toLowerCase", 0): str.lower,
    ("toUpperCase", 0): str.upper,
    ("trim", 0): str.strip,
}


def java_class(value: Any) -> str:
    """The Java class name Camunda would report for a value (used in error messages)."""
    if isinstance(value, Mapping):
        return "java.util.Map"
    if isinstance(value, list | tuple):
        return "java.util.List"
    return _JAVA_CLASSES.get(type(value), type(value).__name__)


def to_string(value: Any) -> str:
    """EL coercion to String: null is "", booleans are ``true``/``false``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value if isinstance(value, str) else str(value)


def concat(pieces: Iterable[str], text: str) -> str:
    """The pieces of a composite expression joined. Raises ExpressionError, before building it,
    when the result would exceed MAX_TEXT characters."""
    parts = []
    size = 0
    for piece in pieces:
        size += len(piece)
        if size > MAX_TEXT:
            raise ExpressionError(
                f"Error while evaluating expression: {text}. Cause: the result is longer than "
                f"{MAX_TEXT} characters"
            )
        parts.append(piece)
    return "".join(parts)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_float_like(value: Any) -> bool:
    return isinstance(value, float) or (isinstance(value, str) and any(c in value for c in ".eE"))


def evaluate(node: Node, variables: Mapping[str, Any], text: str) -> Any:
    """Evaluate ``node`` against ``variables``; ``text`` is the expression, for error messages.

    Raises ExpressionError for an unknown variable, a failed coercion or a forbidden method.
    """
    return _Evaluator(variables, text).eval(node)


class _Evaluator:
    __slots__ = ("text", "variables")

    def __init__(self, variables: Mapping[str, Any], text: str) -> None:
        self.variables = variables
        self.text = text

    def error(self, cause: str) -> ExpressionError:
        return ExpressionError(f"Error while evaluating expression: {self.text}. Cause: {cause}")

    def eval(self, node: Node) -> Any:
        match node:
            case Literal(value=value):
                return _long(value)
            case Identifier(name=name):
                if name not in self.variables:
                    raise ExpressionError(
                        f"Unknown property used in expression: {self.text}. "
                        f"Cause: Cannot resolve identifier '{name}'"
                    )
                return self.variables[name]
            case Property(base=base, key=key):
                return self.property(self.eval(base), self.eval(key))
            case Call(base=base, method=method, args=args):
                return self.call(self.eval(base), method, [self.eval(arg) for arg in args])
            case Unary(op=op, operand=operand):
                return self.unary(op, self.eval(operand))
            case Binary(op="&&", left=left, right=right):
                return self.to_bool(self.eval(left)) and self.to_bool(self.eval(right))
            case Binary(op="||", left=left, right=right):
                return self.to_bool(self.eval(left)) or self.to_bool(self.eval(right))
            case Binary(op=op, left=left, right=right):
                return self.binary(op, self.eval(left), self.eval(right))
            case Ternary(test=test, then=then, other=other):
                return self.eval(then if self.to_bool(self.eval(test)) else other)
        raise self.error(f"unknown node {node!r}")  # pragma: no cover

    def to_bool(self, value: Any) -> bool:
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return value.lower() == "true"
        raise self.error(f"Cannot coerce from {java_class(value)} to java.lang.Boolean")

    def to_long(self, value: Any) -> int:
        if value is None or (isinstance(value, str) and value == ""):
            return 0
        if _is_number(value):
            return int(value)
        if isinstance(value, str) and _LONG.fullmatch(value):
            return int(value)
        raise self._coerce_error(value, "java.lang.Long")

    def to_double(self, value: Any) -> float:
        if value is None or (isinstance(value, str) and value == ""):
            return 0.0
        if _is_number(value):
            return float(value)
        if isinstance(value, str) and _DOUBLE.fullmatch(value):
            return float(value)
        raise self._coerce_error(value, "java.lang.Double")

    def _coerce_error(self, value: Any, target: str) -> ExpressionError:
        if isinstance(value, str):
            return self.error(f"Cannot coerce '{value}' to {target}")
        return self.error(f"Cannot coerce from {java_class(value)} to {target}")

    def property(self, base: Any, key: Any) -> Any:
        if base is None:
            return None
        if isinstance(base, Mapping):
            try:
                return base.get(key)
            except TypeError:
                raise self.error(f"Cannot use a {java_class(key)} as a map key") from None
        if isinstance(base, list | tuple):
            index = self.to_long(key)
            return base[index] if 0 <= index < len(base) else None
        raise ExpressionError(
            f"Unknown property used in expression: {self.text}. "
            f"Cause: Could not find property {to_string(key)} in class {java_class(base)}"
        )

    def call(self, base: Any, method: str, args: list[Any]) -> Any:
        if isinstance(base, str) and (method, len(args)) in _STRING_METHODS:
            return _STRING_METHODS[method, len(args)](base, *args)
        if isinstance(base, Mapping | list | tuple) and method in ("size", "isEmpty") and not args:
            return len(base) if method == "size" else not base
        if isinstance(base, Mapping) and len(args) == 1 and method in ("get", "containsKey"):
            return self.property(base, args[0]) if method == "get" else args[0] in base
        if isinstance(base, Mapping) and not args and re.fullmatch(r"(get|is)[A-Z]\w*", method):
            name = method[3:] if method.startswith("get") else method[2:]
            return base.get(name[0].lower() + name[1:])
        if isinstance(base, list | tuple) and len(args) == 1 and method in ("get", "contains"):
            if method == "contains":
                return args[0] in base
            index = self.to_long(args[0])
            if not 0 <= index < len(base):
                raise self.error(f"Index {index} out of bounds for length {len(base)}")
            return base[index]
        target = "null" if base is None else f"class {java_class(base)}"
        raise self.error(f"Cannot call method '{method}' with {len(args)} argument(s) on {target}")

    def unary(self, op: str, value: Any) -> Any:
        if op == "!":
            return not self.to_bool(value)
        if op == "empty":
            return value is None or (isinstance(value, str | list | tuple | Mapping) and not value)
        if _is_float_like(value):
            return -self.to_double(value)
        if type(value) is int:
            return -value  # JUEL negates an Integer as an Integer
        return JavaLong(-self.to_long(value))

    def binary(self, op: str, left: Any, right: Any) -> Any:
        if op in ("==", "!="):
            return self.equals(left, right) == (op == "==")
        if op in ("<", ">", "<=", ">="):
            return self.compare(op, left, right)
        if left is None and right is None:
            return JavaLong(0)
        return _long(self.arithmetic(op, left, right))

    def arithmetic(self, op: str, left: Any, right: Any) -> Any:
        if op == "/" or _is_float_like(left) or _is_float_like(right):
            x, y = self.to_double(left), self.to_double(right)
        else:
            x, y = self.to_long(left), self.to_long(right)
        if op in ("/", "%") and y == 0:
            raise self.error("Division by zero")
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if op == "/":
            return x / y
        # Java's remainder takes the sign of the dividend (Python's % takes the divisor's).
        if isinstance(x, float) or isinstance(y, float):
            return math.fmod(x, y)
        remainder = abs(x) % abs(y)
        return -remainder if x < 0 else remainder

    def equals(self, left: Any, right: Any) -> bool:
        if left is right:
            return True
        if left is None or right is None:
            return False
        if isinstance(left, float) or isinstance(right, float):
            return self.to_double(left) == self.to_double(right)
        if _is_number(left) or _is_number(right):
            return self.to_long(left) == self.to_long(right)
        if isinstance(left, bool) or isinstance(right, bool):
            return self.to_bool(left) == self.to_bool(right)
        if isinstance(left, str) or isinstance(right, str):
            return to_string(left) == to_string(right)
        return bool(left == right)

    def compare(self, op: str, left: Any, right: Any) -> bool:
        if left is right and left is None:
            return op in ("<=", ">=")
        if left is None or right is None:
            return False
        x: Any
        y: Any
        if isinstance(left, float) or isinstance(right, float):
            x, y = self.to_double(left), self.to_double(right)
        elif _is_number(left) or _is_number(right):
            x, y = self.to_long(left), self.to_long(right)
        elif isinstance(left, str) or isinstance(right, str):
            x, y = to_string(left), to_string(right)
        elif isinstance(left, bool) and isinstance(right, bool):
            x, y = left, right
        else:
            raise self.error(f"Cannot compare {java_class(left)} with {java_class(right)}")
        return bool({"<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op])
