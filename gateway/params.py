"""Query-string parameters the way Camunda's REST layer reads them: comma-separated lists,
Jackson booleans, ``name_operator_value`` variable conditions, and exact 400 messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request

from redtask.broker.query import SORT_FIELDS
from redtask.gateway.dto import ExternalTaskQueryDto, SortingDto, VariableQueryParameterDto
from redtask.gateway.errors import invalid_request

_LISTS = {
    "externalTaskIdIn",
    "activityIdIn",
    "processInstanceIdIn",
    "processDefinitionKeyIn",
    "tenantIdIn",
}
_BOOLS = {
    "locked",
    "notLocked",
    "withRetriesLeft",
    "noRetriesLeft",
    "active",
    "suspended",
    "variableNamesIgnoreCase",
    "variableValuesIgnoreCase",
}
_INTS = {"priorityHigherThanOrEquals", "priorityLowerThanOrEquals"}
_STRINGS = {
    "externalTaskId",
    "topicName",
    "workerId",
    "lockExpirationAfter",
    "lockExpirationBefore",
    "activityId",
    "executionId",
    "processInstanceId",
    "processDefinitionId",
    "processDefinitionKey",
    "processDefinitionName",
    "processDefinitionNameLike",
}


def _bad(name: str, value: str) -> Exception:
    return invalid_request(f"Cannot set query parameter '{name}' to value '{value}'")


def boolean_param(params: QueryParams, name: str) -> bool:
    value = params.get(name)
    if value is None:
        return False
    if value not in ("true", "false"):
        raise _bad(name, value)
    return value == "true"


def _int_param(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise _bad(name, value) from None


def _variable_conditions(name: str, value: str) -> list[VariableQueryParameterDto]:
    out = []
    for part in value.split(","):
        pieces = part.split("_", 2)
        if len(pieces) != 3:
            raise _bad(name, value)
        out.append(VariableQueryParameterDto(name=pieces[0], operator=pieces[1], value=pieces[2]))
    return out


def query_from_params(params: QueryParams) -> ExternalTaskQueryDto:
    fields: dict[str, Any] = {}
    for name, value in params.items():
        if name in _LISTS:
            fields[name] = value.split(",")
        elif name in _BOOLS:
            fields[name] = boolean_param(params, name)
        elif name in _INTS:
            fields[name] = _int_param(name, value)
        elif name in _STRINGS:
            fields[name] = value
        elif name == "processVariables":
            fields[name] = _variable_conditions(name, value)
    return ExternalTaskQueryDto.model_validate(fields)


def paging(request: Request) -> tuple[int | None, int | None]:
    params = request.query_params
    first = params.get("firstResult")
    maximum = params.get("maxResults")
    return (
        None if first is None else _int_param("firstResult", first),
        None if maximum is None else _int_param("maxResults", maximum),
    )


def _check_sort(sort_by: str, sort_order: str) -> tuple[str, str]:
    if sort_by not in SORT_FIELDS:
        raise _bad("sortBy", sort_by)
    if sort_order not in ("asc", "desc"):
        raise _bad("sortOrder", sort_order)
    return sort_by, sort_order


def sorting_from_params(params: QueryParams) -> list[tuple[str, str]]:
    sort_by, sort_order = params.get("sortBy"), params.get("sortOrder")
    if sort_by is None and sort_order is None:
        return []
    if sort_by is None or sort_order is None:
        raise invalid_request(
            "Only a single sorting parameter specified. sortBy and sortOrder required"
        )
    return [_check_sort(sort_by, sort_order)]


def sorting_from_body(sorting: Sequence[SortingDto] | None) -> list[tuple[str, str]]:
    return [_check_sort(s.sort_by or "", s.sort_order or "") for s in sorting or ()]
