"""The syntax tree of a parsed expression (internal to :mod:`broker.bpmn.expressions`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redtask.broker.errors import BrokerError


class ExpressionError(BrokerError, ValueError):
    """An expression cannot be parsed, or its evaluation fails (unknown variable, bad coercion)."""


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class Identifier:
    name: str


@dataclass(frozen=True, slots=True)
class Property:
    """``base.key`` or ``base[key]``."""

    base: Node
    key: Node


@dataclass(frozen=True, slots=True)
class Call:
    """``base.method(args)``: only whitelisted read-only methods evaluate."""

    base: Node
    method: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "-", "!" or "empty"
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # canonical symbol: "||" "&&" "==" "!=" "<" ">" "<=" ">=" "+" "-" "*" "/" "%"
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Ternary:
    test: Node
    then: Node
    other: Node


Node = Literal | Identifier | Property | Call | Unary | Binary | Ternary
