"""The one reader of GET query strings, driven by the field types of the query's DTO (as
Camunda's AbstractQueryDto converts each parameter for its typed setter).

Per field type: ``bool`` is a Jackson boolean (``true`` or ``false``), ``int`` a number,
``list[str]`` a comma-separated list, ``list[VariableQueryParameterDto]`` comma-separated
``name_operator_value`` conditions, a ``RestDate`` a date in Camunda's format, ``str`` the text
itself. Fields of any other type (a POST body's ``sorting``, ``orQueries``) are no query
parameters. Unknown parameters are ignored; a value that does not convert answers Camunda's
400 "Cannot set query parameter 'NAME' to value 'VALUE'".
"""

from __future__ import annotations

import types
from collections.abc import Callable, Collection, Sequence
from functools import cache
from typing import Any, TypeVar, Union, get_args, get_origin

from starlette.datastructures import QueryParams

from redtask.gateway.dto.base import (
    REST_DATE,
    Dto,
    PagingParams,
    SortingDto,
    bad_parameter,
)
from redtask.gateway.dto.variables import VariableQueryParameterDto
from redtask.gateway.errors import invalid_request

D = TypeVar("D", bound=Dto)
Reader = Callable[[str, str], Any]


def _text(name: str, value: str) -> str:
    return value


def _boolean(name: str, value: str) -> bool:
    if value not in ("true", "false"):
        raise bad_parameter(name, value)
    return value == "true"


def _integer(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise bad_parameter(name, value) from None


def _list(name: str, value: str) -> list[str]:
    return value.split(",")


def _conditions(name: str, value: str) -> list[VariableQueryParameterDto]:
    out = []
    for part in value.split(","):
        pieces = part.split("_", 2)
        if len(pieces) != 3:
            raise bad_parameter(name, value)
        out.append(VariableQueryParameterDto(name=pieces[0], operator=pieces[1], value=pieces[2]))
    return out


def _reader_for(annotation: Any, metadata: Collection[Any]) -> Reader | None:
    if REST_DATE in metadata:
        return _text  # the field's type parses it, with the same 400
    if get_origin(annotation) in (Union, types.UnionType):
        present = [a for a in get_args(annotation) if a is not type(None)]
        annotation = present[0] if len(present) == 1 else None
    if annotation in (str, bool, int):
        return {str: _text, bool: _boolean, int: _integer}[annotation]
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        return {str: _list, VariableQueryParameterDto: _conditions}.get(item)
    return None


@cache
def _readers(model: type[Dto]) -> dict[str, Reader]:
    """{query parameter: reader} of a DTO class, from its fields' types."""
    readers = {}
    for name, field in model.model_fields.items():
        reader = _reader_for(field.annotation, field.metadata)
        if reader is not None:
            readers[field.alias or name] = reader
    return readers


def read_query(params: QueryParams, model: type[D]) -> D:
    """The DTO ``model`` holding the parameters of a query string it declares."""
    readers = _readers(model)
    fields = {name: readers[name](name, value) for name, value in params.items() if name in readers}
    return model.model_validate(fields)


def flag_defaulting_to_true(raw: str | None) -> bool:
    """A JAX-RS boolean query parameter with ``@DefaultValue("true")`` (Boolean.valueOf of the
    text: anything but "true", in any case, is false), e.g. ``deserializeValues``."""
    return raw is None or raw.lower() == "true"


def read_paging(params: QueryParams) -> tuple[int | None, int | None]:
    """``firstResult`` and ``maxResults`` (query-string parameters of POST queries too)."""
    paging = read_query(params, PagingParams)
    return paging.first_result, paging.max_results


def _sort_pair(sort_by: str, sort_order: str, valid: Collection[str]) -> tuple[str, str]:
    if sort_by not in valid:
        raise bad_parameter("sortBy", sort_by)
    if sort_order not in ("asc", "desc"):
        raise bad_parameter("sortOrder", sort_order)
    return sort_by, sort_order


def read_sorting(params: QueryParams, valid: Collection[str]) -> list[tuple[str, str]]:
    """The (sortBy, sortOrder) pair of a GET query; both or neither must be given."""
    sorting = read_query(params, SortingDto)
    if sorting.sort_by is None and sorting.sort_order is None:
        return []
    if sorting.sort_by is None or sorting.sort_order is None:
        raise invalid_request(
            "Only a single sorting parameter specified. sortBy and sortOrder required"
        )
    return [_sort_pair(sorting.sort_by, sorting.sort_order, valid)]


def body_sorting(
    sorting: Sequence[SortingDto] | None, valid: Collection[str]
) -> list[tuple[str, str]]:
    """The (sortBy, sortOrder) pairs of a POST query's ``sorting``."""
    return [_sort_pair(s.sort_by or "", s.sort_order or "", valid) for s in sorting or ()]


def flag(params: QueryParams, name: str) -> bool:
    """A JAX-RS boolean read as DeploymentResourceImpl#isQueryPropertyEnabled reads one: the
    first value is exactly ``true`` (case matters; anything else, or none, is false; never a
    400)."""
    values = params.getlist(name)
    return bool(values) and values[0] == "true"
