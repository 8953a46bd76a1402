"""Camunda typed variables (``{type, value, valueInfo}``): validation and canonical storage.

Values are converted as Camunda's REST layer does (numeric strings for numbers, "true"/"false"
for booleans, base64 for Bytes/File, serialized strings for Object/Json/Xml) and stored in a
canonical form that renders back to the same wire JSON. Transient variables are not stored.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from redtask.broker import dates
from redtask.broker.errors import InvalidVariable

TypedValue = dict[str, Any]
# what Java's Integer.parseInt / Double.parseDouble accept (no digit separators, no NaN); each
# run of digits can be matched one way only, so a long value costs linear time
_JAVA_INT = re.compile(r"[+-]?\d+\Z")
_JAVA_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?[dDfF]?\Z")

_INT_RANGES = {
    "Short": (-(2**15), 2**15 - 1, "java.lang.Short"),
    "Integer": (-(2**31), 2**31 - 1, "java.lang.Integer"),
    "Long": (-(2**63), 2**63 - 1, "java.lang.Long"),
}


def _cannot_convert(value: Any, type_name: str, java: str) -> InvalidVariable:
    return InvalidVariable(
        f"Cannot convert value '{_java_text(value)}' of type '{type_name}' to java type {java}"
    )


def _java_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _integer(type_name: str) -> Callable[[Any], Any]:
    low, high, java = _INT_RANGES[type_name]

    def convert(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool | float):
            raise _cannot_convert(value, type_name, java)
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and _JAVA_INT.match(value):
            number = int(value)
        else:
            raise _cannot_convert(value, type_name, java)
        if not low <= number <= high:
            raise _cannot_convert(value, type_name, java)
        return number

    return convert


def _double(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        raise _cannot_convert(value, "Double", "java.lang.Double")
    try:
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str) and _JAVA_DECIMAL.match(value):
            number = float(value.rstrip("dDfF"))
        else:
            raise _cannot_convert(value, "Double", "java.lang.Double")
    except OverflowError:  # an integer beyond the largest double
        raise _cannot_convert(value, "Double", "java.lang.Double") from None
    if not math.isfinite(number):  # JSON has no NaN or Infinity: it would come back as null
        raise _cannot_convert(value, "Double", "java.lang.Double")
    return number


def _boolean(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _cannot_convert(value, "Boolean", "java.lang.Boolean")


def _string(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        raise _cannot_convert(value, "String", "java.lang.String")
    return _java_text(value)


def _date(value: Any) -> Any:
    if value is None:
        return None
    try:
        return dates.normalize(value)
    except (ValueError, TypeError):
        raise _cannot_convert(value, "Date", "java.util.Date") from None


def _base64(type_name: str) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise _cannot_convert(value, type_name, "byte[]")
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _cannot_convert(value, type_name, "byte[]") from None
        return base64.b64encode(raw).decode()

    return convert


def _serialized(type_name: str) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        raise InvalidVariable(
            f"Must provide 'null' or String value for value of SerializableValue type "
            f"'{type_name}'."
        )

    return convert


def _null(value: Any) -> Any:
    return None


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "String": _string,
    "Boolean": _boolean,
    "Short": _integer("Short"),
    "Integer": _integer("Integer"),
    "Long": _integer("Long"),
    "Double": _double,
    "Date": _date,
    "Bytes": _base64("Bytes"),
    "File": _base64("File"),
    "Null": _null,
    "Object": _serialized("Object"),
    "Json": _serialized("Json"),
    "Xml": _serialized("Xml"),
}
_BY_LOWER = {name[0].lower() + name[1:]: name for name in _CONVERTERS}
_VALUE_INFO_KEYS = {
    "Object": ("objectTypeName", "serializationDataFormat"),
    "Json": (),
    "Xml": (),
    "File": ("filename", "mimeType", "encoding"),
}


def _untyped(value: Any) -> TypedValue:
    """Camunda's untypedValue(): the type follows the JSON value."""
    if value is None:
        return {"type": "Null", "value": None, "valueInfo": {}}
    if isinstance(value, bool):
        return {"type": "Boolean", "value": value, "valueInfo": {}}
    if isinstance(value, int):
        kind = "Integer" if -(2**31) <= value < 2**31 else "Long"
        return {"type": kind, "value": _CONVERTERS[kind](value), "valueInfo": {}}
    if isinstance(value, float):
        return {"type": "Double", "value": value, "valueInfo": {}}
    if isinstance(value, str):
        return {"type": "String", "value": value, "valueInfo": {}}
    raise InvalidVariable(
        "Cannot convert an untyped JSON object or array; send it with type 'Json'"
    )


def type_name(raw: Any) -> str:
    """Camunda's fromRestApiTypeName: only the first letter is case-insensitive."""
    if not isinstance(raw, str) or not raw:
        raise InvalidVariable(f"Unsupported value type '{raw}'", kind="RestException")
    name = _BY_LOWER.get(raw[0].lower() + raw[1:])
    if name is None:
        raise InvalidVariable(f"Unsupported value type '{raw}'", kind="RestException")
    return name


def normalize_value(name: str, dto: Any) -> TypedValue | None:
    """Convert one VariableValueDto; None means a transient value that is not stored."""
    if not isinstance(dto, Mapping):
        raise InvalidVariable(f"Variable '{name}' must be an object with type and value")
    value_info = dto.get("valueInfo") or {}
    if not isinstance(value_info, Mapping):
        raise InvalidVariable(f"valueInfo of variable '{name}' must be an object")
    raw_type = dto.get("type")
    if raw_type is None:
        typed = _untyped(dto.get("value"))
        return None if value_info.get("transient") is True else typed
    kind = type_name(raw_type)
    value = _CONVERTERS[kind](dto.get("value"))
    if value_info.get("transient") is True:
        return None
    info: dict[str, Any] = {}
    for key in _VALUE_INFO_KEYS.get(kind, ()):
        if value_info.get(key) is not None:
            info[key] = str(value_info[key])
    if kind == "File" and "filename" not in info:
        raise InvalidVariable(
            f"Cannot convert value of variable '{name}': File values need valueInfo.filename"
        )
    return {"type": kind, "value": value, "valueInfo": info}


def normalize(variables: Mapping[str, Any] | None) -> dict[str, TypedValue]:
    """Convert a whole variable map; raises InvalidVariable naming the first bad entry."""
    if variables is None:
        return {}
    if not isinstance(variables, Mapping):
        raise InvalidVariable("variables must be a JSON object")
    out: dict[str, TypedValue] = {}
    for name, dto in variables.items():
        if not isinstance(name, str) or not name:
            raise InvalidVariable("variable names must be non-empty strings")
        typed = normalize_value(name, dto)
        if typed is not None:
            out[name] = typed
    return out
