"""Typed variables as Camunda's VariableValueDto maps carry them, and variable conditions of
queries (VariableQueryParameterDto)."""

from __future__ import annotations

from typing import Any

from redtask.gateway.dto.base import Dto

Variables = dict[str, Any] | None
"""A map of name to VariableValueDto (``{"value", "type", "valueInfo"}``), kept as sent."""


class VariableQueryParameterDto(Dto):
    name: str | None = None
    operator: str | None = None
    value: Any = None
