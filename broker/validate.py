"""Input checks shared by the store's methods: each raises InvalidArgument with a clear message."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

import orjson

from redtask.broker import dates, variables
from redtask.broker.errors import InvalidArgument

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


def topic_name(topic: Any, max_length: int) -> str:
    if not isinstance(topic, str) or not topic:
        raise InvalidArgument("topicName is null")
    if len(topic) > max_length:
        raise InvalidArgument(f"topic name is longer than {max_length} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in topic):
        raise InvalidArgument(f"topic name {topic!r} contains control characters")
    return topic


def _too_big(size: int, max_bytes: int) -> InvalidArgument:
    return InvalidArgument(
        f"variables take {size} bytes, more than the limit of {max_bytes} "
        "(REDTASK_MAX_VARIABLES_BYTES)"
    )


def variables_json(raw: Mapping[str, Any] | None, max_bytes: int) -> str:
    """A typed-variable map as one JSON text (for the finished-task log); "" for none."""
    if raw is None or (type(raw) is dict and not raw):  # most completions carry none
        return ""
    typed = variables.normalize(raw)
    if not typed:
        return ""
    encoded = orjson.dumps(typed)
    if len(encoded) > max_bytes:
        raise _too_big(len(encoded), max_bytes)
    return encoded.decode()


def variable_fields(*maps: Mapping[str, Any] | None, max_bytes: int) -> list[str]:
    """Typed variables as stored: flat [name, typed value JSON, ...]; later maps win."""
    merged: dict[str, str] = {}
    for raw in maps:
        for name, typed in variables.normalize(raw).items():
            merged[name] = orjson.dumps(typed).decode()
    size = sum(len(k.encode()) + len(v.encode()) for k, v in merged.items())
    if size > max_bytes:
        raise _too_big(size, max_bytes)
    return [x for pair in merged.items() for x in pair]


def integer(name: str, value: Any, low: int = LONG_MIN, high: int = LONG_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be an integer")
    if not low <= value <= high:
        raise InvalidArgument(f"{name} is out of range [{low}, {high}]")
    return value


def worker_id(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidArgument("workerId is null")
    return value


def within_dates(name: str, duration: int, now_ms: int) -> int:
    """A duration (ms) whose end, ``now_ms + duration``, is a date redtask can store and
    render; InvalidArgument beyond ``dates.LATEST_MS``."""
    if now_ms + duration > dates.LATEST_MS:
        latest = dates.format_ms(dates.LATEST_MS)
        raise InvalidArgument(f"{name} of {duration} ms ends after {latest}, the latest date")
    return duration
