"""Camunda typed values (``{"type", "value", "valueInfo"}``) to Python values and back.

Handlers see plain Python values: String/Integer/Long/Short/Double/Boolean as themselves, Null as
None, Date as an aware ``datetime``, Json (and Object serialized as JSON) parsed, Bytes/File as
``bytes``. Returned values go the other way; wrap a value in :class:`Typed` to choose the type.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

TypedValue = dict[str, Any]
_INT32 = range(-(2**31), 2**31)
_JSON_FORMAT = "application/json"


@dataclass(frozen=True, slots=True)
class Typed:
    """A value sent with an explicit Camunda type, e.g. ``Typed("Long", 5)``."""

    type: str
    value: Any
    value_info: Mapping[str, Any] | None = None


def format_date(value: datetime) -> str:
    """Camunda's date format, ``2015-10-06T16:34:42.000+0200``; a naive value is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    millis = value.microsecond // 1000
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}" + value.strftime("%z")


def to_python(typed: Mapping[str, Any]) -> Any:
    """The Python value of one typed value."""
    kind = str(typed.get("type") or "").lower()
    value = typed.get("value")
    if value is None:
        return None
    if kind == "date":
        return datetime.fromisoformat(value)
    if kind == "json":
        return json.loads(value)
    if kind == "object":
        info = typed.get("valueInfo") or {}
        if info.get("serializationDataFormat") == _JSON_FORMAT and isinstance(value, str):
            return json.loads(value)
        return value
    if kind in ("bytes", "file") and isinstance(value, str):
        return base64.b64decode(value)
    return value


def to_typed(value: Any) -> TypedValue:
    """The typed value a Camunda engine stores for a Python value.

    Raises TypeError for a value with no Camunda type (wrap it in :class:`Typed` or make it
    JSON-serializable).
    """
    if isinstance(value, Typed):
        out: TypedValue = {"type": value.type, "value": _wire(value.value)}
        if value.value_info is not None:
            out["valueInfo"] = dict(value.value_info)
        return out
    if value is None:
        return {"type": "Null", "value": None}
    if isinstance(value, bool):
        return {"type": "Boolean", "value": value}
    if isinstance(value, int):
        return {"type": "Integer" if value in _INT32 else "Long", "value": value}
    if isinstance(value, float):
        return {"type": "Double", "value": value}
    if isinstance(value, str):
        return {"type": "String", "value": value}
    if isinstance(value, datetime):
        return {"type": "Date", "value": format_date(value)}
    if isinstance(value, date):
        return {"type": "Date", "value": format_date(datetime(value.year, value.month, value.day))}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "Bytes", "value": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict | list | tuple):
        try:
            return {"type": "Json", "value": json.dumps(value, separators=(",", ":"))}
        except TypeError as exc:
            raise TypeError(f"value is not JSON-serializable: {exc}") from None
    raise TypeError(f"no Camunda type for a value of type {type(value).__name__}")


def _wire(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_date(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def from_typed_map(variables: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {name: to_python(typed) for name, typed in variables.items()}


def to_typed_map(variables: Mapping[str, Any] | None) -> dict[str, TypedValue]:
    """Typed values for a mapping of names to Python values (TypeError names the variable)."""
    out = {}
    for name, value in (variables or {}).items():
        try:
            out[name] = to_typed(value)
        except TypeError as exc:
            raise TypeError(f"variable {name!r}: {exc}") from None
    return out
