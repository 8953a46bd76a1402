"""Lua scripts, one per state transition, shipped as package data.

A line ``--!include NAME`` pulls in the helpers of ``NAME`` from this folder, so shared code
lives in one place while every script still loads as a single EVALSHA body. Only the helper
functions a script uses (directly or through other helpers) are included: each EVALSHA runs
the script's top level, and defining unused closures on every call is measurable on hot paths.
Helpers are top-level ``local function NAME(...)`` blocks closed by ``end`` in column 0, or
one-line functions ending in `` end``.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

NAMES = (
    "publish",
    "fetch_and_lock",
    "lock",
    "complete",
    "handle_failure",
    "handle_bpmn_error",
    "extend_lock",
    "unlock",
    "set_retries",
    "set_priority",
    "sweep",
    "advance",
    "trim_history",
)

_FUNCTION = re.compile(
    r"(?:^--[^\n]*\n)*^local function (\w+)\((?:[^\n]* end\n|.*?^end\n)", re.M | re.S
)
_WORD = re.compile(r"\b\w+\b")


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _split(text: str) -> list[tuple[str | None, str]]:
    """An include as (function name or None for other text, block text), in order."""
    blocks: list[tuple[str | None, str]] = []
    at = 0
    for match in _FUNCTION.finditer(text):
        if text[at : match.start()].strip():
            blocks.append((None, text[at : match.start()]))
        blocks.append((match.group(1), match.group(0)))
        at = match.end()
    if text[at:].strip():
        blocks.append((None, text[at:]))
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
