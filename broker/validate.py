"""Input checks shared by the store's methods: each raises InvalidArgument with a clear message."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

import orjson

from broker import variables
from broker.errors import InvalidArgument

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


def topic_name(topic: Any, max_length: int) -> str:
    if not isinstance(topic, str) or not topic:
        raise InvalidArgument("topicName is null")
    if len(topic) > max_length:
        raise InvalidArgument(f"topic name is longer than {max_length} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in topic):
        raise InvalidArgument(f"topic name {topic!r} contains control characters")
    return topic


def variables_json(raw: Mapping[str, Any] | None, max_bytes: int) -> str:
    """Typed variables as stored (canonical JSON text); "" for none."""
    typed = variables.normalize(raw)
    if not typed:
        return ""
    text = orjson.dumps(typed).decode()
    if len(text) > max_bytes:
        raise InvalidArgument(
            f"variables take {len(text)} bytes, more than the limit of "
            f"{max_bytes} (REDTASK_MAX_VARIABLES_BYTES)"
        )
    return text


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
