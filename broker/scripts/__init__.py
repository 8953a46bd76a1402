"""Lua scripts, one per state transition, shipped as package data.

Every ``*.lua`` file of this folder whose name does not start with ``_`` is a script (``NAMES``
is discovered, not kept by hand); the ``_*.lua`` files are includes. A line
``--!include NAME`` pulls in the helpers of ``NAME`` from this folder, so shared code lives in
one place while every script still loads as a single EVALSHA body. Only the helper functions a
script uses (directly or through other helpers) are included: each EVALSHA runs the script's
top level, and defining unused closures on every call is measurable on hot paths. An include's
other text (comments, constants such as the status codes of ``_status.lua``) is always kept.

A helper is a top-level ``local function NAME(...)`` with the comment lines right above it; a
small scanner finds where it ends by counting Lua's block keywords (``function``/``if``/``do``/
``repeat`` against ``end``/``until``) outside strings and comments, so indentation and layout
do not matter.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_START = re.compile(r"^\s*local\s+function\s+(\w+)\s*\(")
_STRING = re.compile(r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"")
_OPENS = frozenset({"function", "if", "do", "repeat"})
_CLOSES = frozenset({"end", "until"})
_WORD = re.compile(r"\b\w+\b")
_CODE = re.compile(r"^\s*local\s+(OK|E_[A-Z_]+)\s*=\s*(-?\d+)\b", re.M)


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _discover() -> tuple[str, ...]:
    files = resources.files(__package__).iterdir()
    return tuple(sorted(f.name[:-4] for f in files if f.name.endswith(".lua") and f.name[0] != "_"))


NAMES = _discover()


def status_codes() -> dict[str, int]:
    """The scripts' status codes by name, as ``_status.lua`` declares them."""
    return {name: int(value) for name, value in _CODE.findall(_read("_status.lua"))}


def _depth_change(line: str) -> int:
    """How many blocks ``line`` opens (positive) or closes (negative)."""
    code = _STRING.sub("''", line).split("--", 1)[0]
    words = _WORD.findall(code)
    return sum(w in _OPENS for w in words) - sum(w in _CLOSES for w in words)


def _split(text: str) -> list[tuple[str | None, str]]:
    """An include as (function name or None for other text, block text), in order."""
    blocks: list[tuple[str | None, str]] = []
    other: list[str] = []
    comments: list[str] = []  # comment lines that may belong to the next function
    name: str | None = None
    body: list[str] = []
    depth = 0
    for line in text.splitlines(keepends=True):
        if name is not None:
            body.append(line)
            depth += _depth_change(line)
        elif (start := _START.match(line)) is not None:
            if other:
                blocks.append((None, "".join(other)))
                other = []
            name, body, comments = start.group(1), [*comments, line], []
            depth = _depth_change(line)
        elif line.lstrip().startswith("--"):
            comments.append(line)
            continue
        else:
            other += [*comments, line]
            comments = []
            continue
        if depth <= 0:
            blocks.append((name, "".join(body)))
            name = None
    other += comments
    if name is not None:
        raise ValueError(f"Lua helper {name} has no end")
    if "".join(other).strip():
        blocks.append((None, "".join(other)))
    return blocks


def _needed(body: str, functions: dict[str, str]) -> set[str]:
    needed: set[str] = set()
    pending = set(_WORD.findall(body)) & functions.keys()
    while pending:
        name = pending.pop()
        needed.add(name)
        pending |= (set(_WORD.findall(functions[name])) & functions.keys()) - needed
    return needed


@cache
def source(name: str) -> str:
    """The full text of script ``name`` with the helpers it uses expanded in place."""
    body_lines: list[str] = []
    includes: list[list[tuple[str | None, str]]] = []
    for line in _read(f"{name}.lua").splitlines():
        if line.startswith("--!include "):
            includes.append(_split(_read(line.split(maxsplit=1)[1].strip())))
            body_lines.append(f"--!included {len(includes) - 1}")
        else:
            body_lines.append(line)
    body = "\n".join(body_lines)
    functions = {n: text for blocks in includes for n, text in blocks if n is not None}
    keep = _needed(body, functions)
    out = []
    for line in body_lines:
        if line.startswith("--!included "):
            blocks = includes[int(line.split()[1])]
            out += [text.rstrip("\n") for n, text in blocks if n is None or n in keep]
        else:
            out.append(line)
    return "\n".join(out) + "\n"
