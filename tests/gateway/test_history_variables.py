"""Historic variable instances (HistoricVariableInstanceDto): GET/POST
/history/variable-instance, /count, /{id} and /{id}/data: the variables of running and ended
instances with their final values and types."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import httpx
import pytest

from redtask.broker import dates
from redtask.broker.store import Store
from tests.conftest import START_MS, FakeClock
from tests.gateway.helpers import API, error
from tests.gateway.history_helpers import deploy_shipping, task_of
from tests.gateway.test_history import TTL_MS

HVI = f"{API}/history/variable-instance"


def at(offset_ms: int | None) -> str | None:
    return None if offset_ms is None else dates.format_ms(START_MS + offset_ms, UTC)


def variable(
    instance: dict[str, Any],
    name: str,
    kind: str,
    value: Any,
    created: int | None,
    *,
    execution: str | None = None,
    activity: str | None = None,
) -> dict[str, Any]:
    """The DTO expected, without ``id``."""
    ended = instance.get("end")
    return {
        "type": kind,
        "value": value,
        "valueInfo": {},
        "name": name,
        "processDefinitionKey": "shipping",
        "processDefinitionId": instance["definition"],
        "processInstanceId": instance["id"],
        "executionId": execution or instance["id"],
        "activityInstanceId": activity or instance["id"],
        "caseDefinitionKey": None,
        "caseDefinitionId": None,
        "caseInstanceId": None,
        "caseExecutionId": None,
        "taskId": None,
        "errorMessage": None,
        "tenantId": None,
        "state": "CREATED",
        "createTime": at(created),
        "removalTime": None if ended is None else at(ended + TTL_MS),
        "rootProcessInstanceId": instance["id"],
    }


def without_id(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(({k: v for k, v in i.items() if k != "id"} for i in items), key=str)


async def start(client: httpx.AsyncClient, variables: dict[str, Any]) -> str:
    response = await client.post(
        f"{API}/process-definition/key/shipping/start", json={"variables": variables}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def complete(client: httpx.AsyncClient, task_id: str, variables: dict[str, Any]) -> None:
    body = {"workerId": "w", "variables": variables}
    response = await client.post(f"{API}/external-task/{task_id}/complete", json=body)
    assert response.status_code == 204, response.text


@pytest.fixture
async def runs(client: httpx.AsyncClient, store: Store, clock: FakeClock) -> dict[str, Any]:
    """a: amount and note at +0s, receipt at +1s, carrier at +3s, ended at +3s (amount
    changed to 43 then). b: running since +3s with amount (Long) and a Bytes document; its
    charge failed at +4s setting a local ``attempt``."""
    definition = await deploy_shipping(client)
    a = await start(
        client,
        {"amount": {"value": 42, "type": "Integer"}, "note": {"value": "x", "type": "String"}},
    )
    clock.advance(1000)
    await complete(client, await task_of(store, "charge", a), {"receipt": {"value": "R-1"}})
    clock.advance(2000)
    pack = await task_of(store, "pack", a)
    await complete(
        client, pack, {"carrier": {"value": "post"}, "amount": {"value": 43, "type": "Integer"}}
    )
    b = await start(
        client,
        {"amount": {"value": 7, "type": "Long"}, "doc": {"value": "aGk=", "type": "Bytes"}},
    )
    charge = await task_of(store, "charge", b)
    clock.advance(1000)
    failure = {
        "workerId": "w",
        "errorMessage": "no",
        "retries": 1,
        "retryTimeout": 0,
        "localVariables": {"attempt": {"value": 1, "type": "Integer"}},
    }
    response = await client.post(f"{API}/external-task/{charge}/failure", json=failure)
    assert response.status_code == 204, response.text
    task = (await client.get(f"{API}/external-task/{charge}")).json()
    return {
        "a": {"id": a, "definition": definition, "end": 3000},
        "b": {"id": b, "definition": definition},
        "b_task": task,
    }


async def listing(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get(HVI, params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


async def test_final_values_of_ended_and_running_instances(
    client: httpx.AsyncClient, runs: dict[str, Any]
) -> None:
    a, b, task = runs["a"], runs["b"], runs["b_task"]
    assert without_id(await listing(client, processInstanceId=a["id"])) == without_id(
        [
            variable(a, "amount", "Integer", 43, 0),
            variable(a, "note", "String", "x", 0),
            variable(a, "receipt", "String", "R-1", 1000),
            variable(a, "carrier", "String", "post", 3000),
        ]
    )
    assert without_id(await listing(client, processInstanceId=b["id"])) == without_id(
        [
            variable(b, "amount", "Long", 7, 3000),
            variable(b, "doc", "Bytes", "aGk=", 3000),
            # set by a failure, which records no creation time
            variable(
                b,
                "attempt",
                "Integer",
                1,
                None,
                execution=task["executionId"],
                activity=task["activityInstanceId"],
            ),
        ]
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"variableName": "amount"}, {("a", "amount"), ("b", "amount")}),
        (
            {"variableName": "AMOUNT", "variableNamesIgnoreCase": "true"},
            {("a", "amount"), ("b", "amount")},
        ),
        (
            {"variableNameLike": "%o%"},
            {("a", "note"), ("a", "amount"), ("b", "amount"), ("b", "doc")},
        ),
        ({"variableName": "carrier", "variableValue": "post"}, {("a", "carrier")}),
        ({"variableName": "carrier", "variableValue": "POST"}, set()),
        (
            {
                "variableName": "carrier",
                "variableValue": "POST",
                "variableValuesIgnoreCase": "true",
            },
            {("a", "carrier")},
        ),
        ({"variableTypeIn": "long,Bytes"}, {("b", "amount"), ("b", "doc")}),
        (
            {"processDefinitionKey": "shipping", "variableTypeIn": "integer"},
            {("a", "amount"), ("b", "attempt")},
        ),
        ({"taskIdIn": "t-1"}, set()),
        ({"tenantIdIn": "t1"}, set()),
        ({"withoutTenantId": "true", "variableName": "note"}, {("a", "note")}),
    ],
)
async def test_filters(
    client: httpx.AsyncClient,
    runs: dict[str, Any],
    params: dict[str, str],
    expected: set[tuple[str, str]],
) -> None:
    names = {runs["a"]["id"]: "a", runs["b"]["id"]: "b"}
    found = await listing(client, **params)
    assert {(names[v["processInstanceId"]], v["name"]) for v in found} == expected
    assert (await client.get(f"{HVI}/count", params=params)).json() == {"count": len(expected)}
    body: dict[str, Any] = {}
    for name, value in params.items():
        body[name] = value.split(",") if name.endswith("In") else value
        if value == "true":
            body[name] = True
    posted = (await client.post(HVI, json=body)).json()
    assert sorted(v["id"] for v in posted) == sorted(v["id"] for v in found)


async def test_a_typed_value_in_a_posted_query(
    client: httpx.AsyncClient, runs: dict[str, Any]
) -> None:
    body = {"variableName": "amount", "variableValue": 43}
    [found] = (await client.post(HVI, json=body)).json()
    assert (found["processInstanceId"], found["value"]) == (runs["a"]["id"], 43)
    assert (await client.post(f"{HVI}/count", json=body)).json() == {"count": 1}


async def test_sorting_paging_by_id_and_data(
    client: httpx.AsyncClient, runs: dict[str, Any]
) -> None:
    by_name = await listing(client, sortBy="variableName", sortOrder="desc", maxResults="3")
    assert [v["name"] for v in by_name] == ["receipt", "note", "doc"]
    [doc] = await listing(client, variableName="doc")
    response = await client.get(f"{HVI}/{doc['id']}")
    assert (response.status_code, response.json()) == (200, doc)
    response = await client.get(f"{HVI}/{doc['id']}/data")
    assert (response.status_code, response.content) == (200, b"hi")
    assert response.headers["content-type"] == "application/octet-stream"
    [note] = await listing(client, variableName="note")
    response = await client.get(f"{HVI}/{note['id']}/data")
    assert (response.status_code, response.json()) == (
        400,
        error(
            "InvalidRequestException",
            f"Value of variable with id {note['id']} is not a binary value.",
        ),
    )


async def test_errors(client: httpx.AsyncClient, runs: dict[str, Any]) -> None:
    response = await client.get(f"{HVI}/nope")
    assert (response.status_code, response.json()) == (
        404,
        error(
            "InvalidRequestException", "Historic variable instance with Id 'nope' does not exist."
        ),
    )
    assert (await client.get(f"{HVI}/nope/data")).status_code == 404
    response = await client.get(HVI, params={"variableValue": "x"})
    assert (response.status_code, response.json()) == (
        400,
        error(
            "InvalidRequestException",
            "Only a single variable value parameter specified: variable name and value are "
            "required to be able to query after a specific variable value.",
        ),
    )
    response = await client.get(HVI, params={"sortBy": "value", "sortOrder": "asc"})
    assert response.status_code == 400


async def test_a_json_object_variable_is_rendered_parsed_unless_asked_not_to(
    client: httpx.AsyncClient,
) -> None:
    await deploy_shipping(client)
    serialized = '{"sku": "A-1", "qty": 2}'
    info = {"objectTypeName": "com.example.Order", "serializationDataFormat": "application/json"}
    instance = await start(
        client, {"order": {"type": "Object", "value": serialized, "valueInfo": info}}
    )

    async def values(url: str, **params: str) -> list[Any]:
        response = await client.get(url, params={"processInstanceId": instance, **params})
        assert response.status_code == 200, response.text
        found = response.json()
        return [v["value"] for v in (found if isinstance(found, list) else [found])]

    parsed = {"sku": "A-1", "qty": 2}
    assert await values(HVI) == [parsed]  # deserializeValues defaults to true
    assert await values(HVI, deserializeValues="false") == [serialized]
    posted = await client.post(
        f"{HVI}?deserializeValues=false", json={"processInstanceId": instance}
    )
    assert [v["value"] for v in posted.json()] == [serialized]
    [variable_id] = [
        v["id"] for v in (await client.get(HVI, params={"processInstanceId": instance})).json()
    ]
    assert await values(f"{HVI}/{variable_id}") == [parsed]
    assert await values(f"{HVI}/{variable_id}", deserializeValue="false") == [serialized]
