"""Helpers of the typed-value tests (tests/broker/test_variable*.py): normalize one variable,
the message of one that is refused, and Camunda's wording of a value it cannot convert."""

from __future__ import annotations

from typing import Any

import pytest

from redtask.broker.errors import InvalidVariable
from redtask.broker.variables import normalize


def one(type_name: str | None, value: Any, value_info: dict[str, Any] | None = None) -> Any:
    """Normalize a single variable and return its typed value."""
    dto: dict[str, Any] = {"value": value}
    if type_name is not None:
        dto["type"] = type_name
    if value_info is not None:
        dto["valueInfo"] = value_info
    return normalize({"v": dto})["v"]


def refused(type_name: str | None, value: Any, value_info: dict[str, Any] | None = None) -> str:
    """Normalize a single variable that must be refused; return the error message."""
    with pytest.raises(InvalidVariable) as caught:
        one(type_name, value, value_info)
    assert caught.value.kind == "InvalidRequestException"
    return str(caught.value)


def cannot_convert(value: str, type_name: str, java: str) -> str:
    return f"Cannot convert value '{value}' of type '{type_name}' to java type {java}"
