"""The one query-string reader: each parameter is converted by the type of its DTO field, and a
value that does not convert answers Camunda's 400 naming the parameter."""

from __future__ import annotations

import httpx
import pytest
from starlette.datastructures import QueryParams

from redtask.gateway.dto.base import Dto, RestDate, SortingDto
from redtask.gateway.dto.external_task import ExternalTaskQueryDto
from redtask.gateway.dto.variables import VariableQueryParameterDto
from redtask.gateway.errors import CamundaError
from redtask.gateway.query import body_sorting, flag, read_paging, read_query, read_sorting
from tests.gateway.helpers import API, error


class ExampleQueryDto(Dto):
    topic_name: str | None = None
    locked: bool | None = None
    priority_higher_than_or_equals: int | None = None
    tenant_id_in: list[str] | None = None
    process_variables: list[VariableQueryParameterDto] | None = None
    lock_expiration_after: RestDate = None
    sorting: list[SortingDto] | None = None


def _read(query: str) -> ExampleQueryDto:
    return read_query(QueryParams(query), ExampleQueryDto)


def _refusal(query: str) -> str | None:
    with pytest.raises(CamundaError) as caught:
        _read(query)
    assert (caught.value.status, caught.value.type, caught.value.code) == (
        400,
        "InvalidRequestException",
        None,
    )
    return caught.value.message


def test_each_field_type_reads_its_parameter() -> None:
    dto = _read(
        "topicName=a,b&locked=true&priorityHigherThanOrEquals=7&tenantIdIn=t1,,t2"
        "&processVariables=amount_gt_5,name_eq_a_b&lockExpirationAfter=2024-01-02T03:04:05.006%2B0100"
    )
    assert dto.topic_name == "a,b"
    assert dto.locked is True
    assert dto.priority_higher_than_or_equals == 7
    assert dto.tenant_id_in == ["t1", "", "t2"]
    assert dto.process_variables == [
        VariableQueryParameterDto(name="amount", operator="gt", value="5"),
        VariableQueryParameterDto(name="name", operator="eq", value="a_b"),
    ]
    assert dto.lock_expiration_after == 1704161045006


def test_unknown_parameters_and_body_only_fields_are_ignored() -> None:
    assert _read("nope=1&sorting=x") == ExampleQueryDto()


def test_a_false_boolean_is_read_as_false() -> None:
    assert _read("locked=false").locked is False


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("locked=yes", "Cannot set query parameter 'locked' to value 'yes'"),
        ("locked=True", "Cannot set query parameter 'locked' to value 'True'"),
        (
            "priorityHigherThanOrEquals=high",
            "Cannot set query parameter 'priorityHigherThanOrEquals' to value 'high'",
        ),
        (
            "processVariables=amount_gt",
            "Cannot set query parameter 'processVariables' to value 'amount_gt'",
        ),
        (
            "lockExpirationAfter=yesterday",
            "Cannot set query parameter 'lockExpirationAfter' to value 'yesterday'",
        ),
    ],
)
def test_a_value_that_does_not_convert_is_refused_naming_it(query: str, message: str) -> None:
    assert _refusal(query) == message


def test_the_same_dto_reads_a_post_body_date_with_the_same_refusal() -> None:
    with pytest.raises(CamundaError) as caught:
        ExternalTaskQueryDto.model_validate({"lockExpirationBefore": "soon"})
    assert (
        caught.value.message == "Cannot set query parameter 'lockExpirationBefore' to value 'soon'"
    )


def test_paging_and_sorting() -> None:
    params = QueryParams("firstResult=2&maxResults=5&sortBy=id&sortOrder=desc")
    assert read_paging(params) == (2, 5)
    assert read_sorting(params, {"id"}) == [("id", "desc")]
    assert read_sorting(QueryParams(""), {"id"}) == []
    assert body_sorting([SortingDto(sort_by="id", sort_order="asc")], {"id"}) == [("id", "asc")]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sortBy=id", "Only a single sorting parameter specified. sortBy and sortOrder required"),
        ("sortBy=nope&sortOrder=asc", "Cannot set query parameter 'sortBy' to value 'nope'"),
        ("sortBy=id&sortOrder=up", "Cannot set query parameter 'sortOrder' to value 'up'"),
        ("firstResult=one", "Cannot set query parameter 'firstResult' to value 'one'"),
    ],
)
def test_bad_paging_or_sorting_is_refused(query: str, message: str) -> None:
    params = QueryParams(query)
    with pytest.raises(CamundaError) as caught:
        read_paging(params)
        read_sorting(params, {"id"})
    assert caught.value.message == message


def test_a_jax_rs_flag_is_its_first_value_exactly_true() -> None:
    assert flag(QueryParams("cascade=true&cascade=false"), "cascade") is True
    assert flag(QueryParams("cascade=TRUE"), "cascade") is False
    assert flag(QueryParams(""), "cascade") is False


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/external-task", "lockExpirationAfter"),
        ("/external-task/count", "lockExpirationBefore"),
        ("/history/process-instance", "startedBefore"),
        ("/history/process-instance/count", "finishedAfter"),
    ],
)
async def test_a_bad_date_in_a_post_query_is_refused_as_its_query_parameter(
    client: httpx.AsyncClient, path: str, field: str
) -> None:
    response = await client.post(f"{API}{path}", json={field: "soon"})
    expected = error(
        "InvalidRequestException", f"Cannot set query parameter '{field}' to value 'soon'"
    )
    assert (response.status_code, response.json()) == (400, expected)


async def test_a_date_that_is_no_string_in_a_post_query_is_a_mapping_error(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(f"{API}/external-task", json={"lockExpirationAfter": 5})
    assert (response.status_code, response.json()) == (400, error("InvalidRequestException", ""))
