"""Lua scripts, one per state transition, shipped as package data.

A line ``--!include NAME`` is replaced by the text of ``NAME`` from this folder, so the
shared helpers live in one place and every script still loads as a single EVALSHA body.
"""

from __future__ import annotations

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
)


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


@cache
def source(name: str) -> str:
    """The full text of script ``name`` with its includes expanded."""
    lines = []
    for line in _read(f"{name}.lua").splitlines():
        if line.startswith("--!include "):
            lines.append(_read(line.split(maxsplit=1)[1].strip()))
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"
