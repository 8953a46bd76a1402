"""Camunda (JUEL) expressions: ``${...}`` / ``#{...}`` parsed once, evaluated safely many times.

The text is tokenized and parsed by hand (precedence climbing) into a tree of frozen nodes; user
text never reaches ``eval``. A text may mix literal parts and evaluations (``order-${id}``), as JUEL
composite expressions do: a lone evaluation yields its value, a mix yields the concatenated string,
and ``\\${`` in literal text is an escaped ``${``.

Supported: integer / decimal / string literals (``\\\\`` and ``\\'`` / ``\\"`` escapes only),
``true false null``, identifiers from the variables, ``a.b`` and ``a['b']`` / ``a[0]`` on mappings
and lists, ``empty``, ``! not - && and || or``, ``== != < > <= >=`` and ``eq ne lt gt le ge``,
``+ - * / div % mod``, ``c ? a : b`` and a small whitelist of read-only methods. The EL spec's
coercions apply (see :mod:`broker.bpmn._evaluate`, which also lists the deviations).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from redtask.broker.bpmn._evaluate import concat, evaluate, java_class, to_string
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

__all__ = ["MAX_DEPTH", "Expression", "ExpressionError", "parse_value"]

MAX_DEPTH = 100
"""Deepest nesting an expression may have (keeps parsing and evaluation far from Python's stack)."""

MAX_NUMBER_LENGTH = 100
"""Longest number literal (Python refuses to read integers of more than 4300 digits, and no
condition needs a hundred)."""


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
    | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<name>(?:[^\W\d]|\$)[\w$]*)
    | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.\[\](),}])
    )""",
    re.VERBOSE,
)
_KEYWORDS = {
    "and": "&&", "or": "||", "not": "!", "eq": "==", "ne": "!=", "lt": "<", "gt": ">",
    "le": "<=", "ge": ">=", "div": "/", "mod": "%", "empty": "empty",
}  # fmt: skip
_CONSTANTS: dict[str, object] = {"true": True, "false": False, "null": None}
_BINARY = {
    "||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, ">": 4, "<=": 4, ">=": 4,
    "+": 5, "-": 5, "*": 6, "/": 6, "%": 6,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # num, str, name, op, const, end
    value: Any
    start: int
    end: int


class _Parser:
    """Recursive descent over tokens scanned lazily from ``text[pos:]`` up to the closing ``}``."""

    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.level = 0
        self.depths: dict[int, int] = {}
        self.tok = self._scan(pos)

    def fail(self, detail: str, pos: int | None = None) -> ExpressionError:
        where = self.tok.start if pos is None else pos
        return ExpressionError(f"Error parsing '{self.text}': {detail} at position {where}")

    def _scan(self, pos: int) -> _Token:
        match = _TOKEN.match(self.text, pos)
        if match is None or match.lastgroup is None:
            rest = self.text[pos:].lstrip()
            start = len(self.text) - len(rest)
            if not rest:
                raise self.fail("unexpected end of expression, missing '}'", start)
            if rest[0] in "'\"":
                raise self.fail("unterminated string", start)
            raise self.fail(f"unexpected character '{rest[0]}'", start)
        kind, value, start = (
            match.lastgroup,
            match.group(match.lastgroup),
            match.start(match.lastgroup),
        )
        if kind == "name" and value in _KEYWORDS:
            kind, value = "op", _KEYWORDS[value]
        elif kind == "name" and value in _CONSTANTS:
            kind, value = "const", _CONSTANTS[value]
        elif kind == "name" and value == "instanceof":
            raise self.fail("'instanceof' is not supported", start)
        elif kind == "str":
            value = self._unescape(value, start)
        return _Token(kind, value, start, match.end())

    def _unescape(self, quoted: str, start: int) -> str:
        quote, body, out, i = quoted[0], quoted[1:-1], [], 0
        while i < len(body):
            if body[i] == "\\":
                if body[i + 1] not in ("\\", quote):
                    raise self.fail(f"invalid escape sequence \\{body[i + 1]}", start + i + 1)
                i += 1
            out.append(body[i])
            i += 1
        return "".join(out)

    def advance(self) -> _Token:
        tok = self.tok
        self.tok = self._scan(tok.end)
        return tok

    def is_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.value in ops

    def expect(self, op: str) -> _Token:
        if not self.is_op(op):
            raise self.fail(
                f"expected '{op}' but found '{self.text[self.tok.start : self.tok.end]}'"
            )
        return self.advance() if op != "}" else self.tok

    def node(self, node: Node, *children: Node) -> Node:
        depth = 1 + max((self.depths.get(id(child), 1) for child in children), default=0)
        if depth > MAX_DEPTH:
            raise self.fail(f"expression nested deeper than {MAX_DEPTH} levels")
        self.depths[id(node)] = depth
        return node

    def expression(self) -> Node:
        self.level += 1
        if self.level > MAX_DEPTH:
            raise self.fail(f"expression nested deeper than {MAX_DEPTH} levels")
        test = self.binary(1)
        if self.is_op("?"):
            self.advance()
            then = self.expression()
            self.expect(":")
            other = self.expression()
            test = self.node(Ternary(test, then, other), test, then, other)
        self.level -= 1
        return test

    def binary(self, min_precedence: int) -> Node:
        left = self.unary()
        while self.tok.kind == "op" and _BINARY.get(self.tok.value, 0) >= min_precedence:
            op = self.advance().value
            right = self.binary(_BINARY[op] + 1)
            left = self.node(Binary(op, left, right), left, right)
        return left

    def unary(self) -> Node:
        if self.is_op("-", "!", "empty"):
            op = self.advance().value
            self.level += 1
            if self.level > MAX_DEPTH:
                raise self.fail(f"expression nested deeper than {MAX_DEPTH} levels")
            operand = self.unary()
            self.level -= 1
            return self.node(Unary(op, operand), operand)
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while self.is_op(".", "["):
            if self.advance().value == "[":
                key = self.expression()
                self.expect("]")
                node = self.node(Property(node, key), node, key)
                continue
            name = self.text[self.tok.start : self.tok.end]
            if not name.isidentifier():
                raise self.fail("expected a property name after '.'")
            self.advance()
            if self.is_op("("):
                args = self.arguments()
                node = self.node(Call(node, name, tuple(args)), node, *args)
            else:
                node = self.node(Property(node, Literal(name)), node)
        return node

    def arguments(self) -> list[Node]:
        self.expect("(")
        args: list[Node] = []
        while not self.is_op(")"):
            if args:
                self.expect(",")
            args.append(self.expression())
        self.advance()
        return args

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "num":
            text = tok.value
            if len(text) > MAX_NUMBER_LENGTH:
                raise self.fail(f"number literal longer than {MAX_NUMBER_LENGTH} characters")
            self.advance()
            return Literal(float(text) if any(c in text for c in ".eE") else int(text))
        if tok.kind in ("str", "const"):
            self.advance()
            return Literal(tok.value)
        if tok.kind == "name":
            self.advance()
            if self.is_op("("):
                raise self.fail(f"function '{tok.value}' is not supported", tok.start)
            return Identifier(tok.value)
        if self.is_op("("):
            self.advance()
            inner = self.expression()
            self.expect(")")
            return inner
        found = self.text[tok.start : tok.end] or "end of text"
        raise self.fail(f"unexpected '{found}'")


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed expression text; equality and hashing use the text only.

    Build with :meth:`parse`; evaluate with :meth:`evaluate` or :meth:`evaluate_condition`.
    ``parts`` holds the literal strings and syntax trees in order (the trees are internal).
    """

    text: str
    parts: tuple[str | Node, ...] = field(compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> Expression:
        """Parse ``text``. Raises ExpressionError for a syntax error or for mixing ``${``/``#{``."""
        parts: list[str | Node] = []
        literal: list[str] = []
        openers: set[str] = set()
        i = 0
        while i < len(text):
            if text.startswith(("\\${", "\\#{"), i):
                literal.append(text[i + 1 : i + 3])
                i += 3
            elif text.startswith(("${", "#{"), i):
                openers.add(text[i])
                if literal:
                    parts.append("".join(literal))
                    literal = []
                parser = _Parser(text, i + 2)
                parts.append(parser.expression())
                i = parser.expect("}").end
            else:
                literal.append(text[i])
                i += 1
        if literal:
            parts.append("".join(literal))
        if len(openers) > 1:
            raise ExpressionError(f"Error parsing '{text}': cannot mix '${{' and '#{{'")
        return cls(text, tuple(parts))

    @property
    def is_literal(self) -> bool:
        """True when the text holds no ``${...}`` at all (it evaluates to itself, unescaped)."""
        return all(isinstance(part, str) for part in self.parts)

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        """The value of the expression. Raises ExpressionError (e.g. for an unknown variable)."""
        if len(self.parts) == 1 and not isinstance(self.parts[0], str):
            return evaluate(self.parts[0], variables, self.text)
        if self.is_literal:
            return "".join(str(part) for part in self.parts)
        return concat(
            (
                part if isinstance(part, str) else to_string(evaluate(part, variables, self.text))
                for part in self.parts
            ),
            self.text,
        )

    def evaluate_condition(self, variables: Mapping[str, Any]) -> bool:
        """Evaluate a flow condition. Raises ExpressionError unless the result is a bool."""
        result = self.evaluate(variables)
        if result is None:
            raise ExpressionError("condition expression returns null: result is null")
        if not isinstance(result, bool):
            raise ExpressionError(
                "condition expression returns non-Boolean: result has class "
                f"{java_class(result)} and not java.lang.Boolean"
            )
        return result


def parse_value(text: str) -> str | Expression:
    """An attribute value: the plain (unescaped) string when it holds no ``${...}``, else an
    Expression. Raises ExpressionError for a broken expression."""
    expression = Expression.parse(text)
    if expression.is_literal:
        return "".join(str(part) for part in expression.parts)
    return expression
