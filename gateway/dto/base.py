"""What every DTO shares: the pydantic base, REST dates, sorting and paging."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo
from pydantic.alias_generators import to_camel

from redtask.broker import dates
from redtask.gateway.errors import CamundaError, invalid_request


class Dto(BaseModel):
    """Unknown fields are ignored, numeric strings are coerced and ``null`` primitives mean
    0/false, as Jackson does for Camunda."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


def bad_parameter(name: str, value: object) -> CamundaError:
    """Camunda's 400 for a query parameter it cannot convert (AbstractQueryDto)."""
    return invalid_request(f"Cannot set query parameter '{name}' to value '{value}'")


def parse_rest_date(name: str, value: str) -> int:
    """A date in Camunda's REST format (``yyyy-MM-dd'T'HH:mm:ss.SSSZ``, read leniently) as
    epoch ms; a 400 naming the parameter if it is malformed."""
    try:
        return dates.to_ms(dates.parse_datetime(value))
    except ValueError:
        raise bad_parameter(name, value) from None


def _rest_date(value: Any, info: ValidationInfo) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("a date is a string")  # Jackson's mapping error: 400, empty message
    return parse_rest_date(to_camel(info.field_name or ""), value)


def _java_string(value: Any) -> Any:
    # Jackson's StringDeserializer takes any scalar token as its text: a worker id sent as
    # 42 is "42", true is "true"; objects and arrays stay mapping errors
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


JavaString = Annotated[str | None, BeforeValidator(_java_string)]
"""A String field as Jackson reads it: a JSON number or boolean becomes its text."""

REST_DATE = BeforeValidator(_rest_date)
RestDate = Annotated[int | None, REST_DATE]
"""A date filter: given in Camunda's REST format, held as epoch ms."""


class SortingDto(Dto):
    """One item of a POST query's ``sorting``; also the ``sortBy``/``sortOrder`` pair of a GET
    query."""

    sort_by: str | None = None
    sort_order: str | None = None


class PagingParams(Dto):
    """``firstResult`` and ``maxResults``: query-string parameters of GET and POST queries."""

    first_result: int | None = None
    max_results: int | None = None


def id_filter(values: Sequence[str] | None) -> tuple[str, ...] | None:
    """A list filter; Camunda ignores an empty one."""
    return tuple(values) if values else None
