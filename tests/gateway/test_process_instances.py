"""Process instances (reference §4.6): GET/POST /process-instance and /count with filters,
sorting and paging, GET and DELETE /process-instance/{id}, and the instance's variables."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from redtask.broker.bpmn import ProcessModel, parse_bpmn
from redtask.broker.errors import TaskNotFound
from redtask.broker.instances import MessageNotCorrelated
from redtask.broker.model import TopicRequest
from redtask.broker.store import Store
from tests.gateway.helpers import API, error

PI = f"{API}/process-instance"
FILES = Path(__file__).parents[1] / "broker" / "bpmn" / "files"
MISSING = "no-such-instance"


def _model(name: str) -> ProcessModel:
    [parsed] = parse_bpmn((FILES / f"{name}.bpmn").read_bytes(), f"{name}.bpmn")
    return parsed


MODELS = {f"{m.key}:1:test": m for m in map(_model, ("simple", "parallel_gateway", "messages"))}
MODELS["reminders:1:test"] = _model("boundary_timer")


@pytest.fixture(autouse=True)
def serve_models(store: Store, app: FastAPI) -> None:
    """The test's models in place of deployments (set after the app's start, which installs
    the deployed definitions as the store's models)."""

    async def lookup(definition_id: str) -> ProcessModel:
        return MODELS[definition_id]

    store.models = lookup


async def start(
    store: Store,
    definition_id: str = "order:1:test",
    variables: dict[str, Any] | None = None,
    business_key: str | None = None,
    tenant_id: str | None = None,
) -> str:
    state, _ = await store.start_instance(
        MODELS[definition_id], definition_id, variables, business_key, tenant_id
    )
    return state.instance_id


def dto(id: str, definition_id: str, business_key: str | None, tenant_id: str | None = None):
    return {
        "links": [],
        "id": id,
        "definitionId": definition_id,
        "definitionKey": definition_id.split(":")[0],
        "businessKey": business_key,
        "caseInstanceId": None,
        "ended": False,
        "suspended": False,
        "tenantId": tenant_id,
    }


@pytest.fixture
async def three(store: Store) -> dict[str, dict[str, Any]]:
    """a: order, B-1, amount 42; b: order, B-2, tenant t1; c: fulfil (waits at pack and bill)."""
    a = await start(
        store, variables={"amount": {"type": "Integer", "value": 42}}, business_key="B-1"
    )
    b = await start(store, business_key="B-2", tenant_id="t1")
    c = await start(store, "fulfil:1:test", {"note": {"type": "String", "value": "rush"}})
    return {
        "a": dto(a, "order:1:test", "B-1"),
        "b": dto(b, "order:1:test", "B-2", "t1"),
        "c": dto(c, "fulfil:1:test", None),
    }


def by_id(*items: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda i: i["id"])  # Camunda's default order


async def test_list_all_in_default_order_on_both_prefixes(client: httpx.AsyncClient, three) -> None:
    expected = by_id(*three.values())
    for base in (PI, f"{API}/engine/default/process-instance"):
        assert (await client.get(base)).json() == expected
        response = await client.post(base, json={})
        assert (response.status_code, response.json()) == (200, expected)
        assert (await client.get(f"{base}/count")).json() == {"count": 3}
        assert (await client.post(f"{base}/count", json={})).json() == {"count": 3}


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"processDefinitionKey": "order"}, "ab"),
        ({"processDefinitionId": "fulfil:1:test"}, "c"),
        ({"processDefinitionKeyIn": "fulfil,other"}, "c"),
        ({"processDefinitionKeyNotIn": "fulfil"}, "ab"),
        ({"businessKey": "B-1"}, "a"),
        ({"businessKeyLike": "B-%"}, "ab"),
        ({"tenantIdIn": "t1,t2"}, "b"),
        ({"withoutTenantId": "true"}, "ac"),
        ({"withoutTenantId": "false"}, "abc"),
        ({"active": "true"}, "abc"),
        ({"suspended": "true"}, ""),
        ({"activityIdIn": "bill"}, "c"),
        ({"activityIdIn": "charge,nowhere"}, "ab"),
        ({"variables": "note_eq_rush"}, "c"),
        ({"variables": "note_like_ru%"}, "c"),
        ({"variables": "NOTE_eq_RUSH", "variableNamesIgnoreCase": "true"}, ""),
        (
            {
                "variables": "NOTE_eq_RUSH",
                "variableNamesIgnoreCase": "true",
                "variableValuesIgnoreCase": "true",
            },
            "c",
        ),
        ({"superProcessInstance": "x"}, ""),
        ({"rootProcessInstances": "true", "leafProcessInstances": "true"}, "abc"),
        ({"withIncident": "true"}, ""),
        ({"unknownParameter": "ignored"}, "abc"),
    ],
)
async def test_get_filters(client: httpx.AsyncClient, three, params, names) -> None:
    response = await client.get(PI, params=params)
    assert response.json() == by_id(*(three[n] for n in names))
    assert (await client.get(f"{PI}/count", params=params)).json() == {"count": len(names)}


async def test_filter_by_instance_ids(client: httpx.AsyncClient, three) -> None:
    a, c = three["a"]["id"], three["c"]["id"]
    response = await client.get(PI, params={"processInstanceIds": f"{a},{c},{MISSING}"})
    assert response.json() == by_id(three["a"], three["c"])
    body = {"processInstanceIds": [c, MISSING]}
    assert (await client.post(PI, json=body)).json() == [three["c"]]
    assert (await client.post(f"{PI}/count", json=body)).json() == {"count": 1}
    assert (await client.post(PI, json={"processInstanceIds": []})).json() == by_id(*three.values())


async def test_post_filters_take_typed_values(client: httpx.AsyncClient, three) -> None:
    body = {
        "variables": [{"name": "amount", "operator": "gt", "value": 40}],
        "processDefinitionKey": "order",
    }
    assert (await client.post(PI, json=body)).json() == [three["a"]]
    body = {"variables": [{"name": "amount", "operator": "lt", "value": 40}]}
    assert (await client.post(f"{PI}/count", json=body)).json() == {"count": 0}


async def test_sorting_and_paging(client: httpx.AsyncClient, three) -> None:
    a, b, c = three["a"], three["b"], three["c"]
    response = await client.get(PI, params={"sortBy": "businessKey", "sortOrder": "desc"})
    assert response.json() == [b, a, c]  # nulls last
    response = await client.get(PI, params={"sortBy": "tenantId", "sortOrder": "asc"})
    assert response.json() == [b, *by_id(a, c)]
    sorting = [
        {"sortBy": "definitionKey", "sortOrder": "desc"},
        {"sortBy": "businessKey", "sortOrder": "asc"},
    ]
    response = await client.post(PI, json={"sorting": sorting})
    assert response.json() == [a, b, c]
    response = await client.post(
        PI, params={"firstResult": 1, "maxResults": 1}, json={"sorting": sorting}
    )
    assert response.json() == [b]
    response = await client.get(
        PI, params={"sortBy": "instanceId", "sortOrder": "desc", "maxResults": 2}
    )
    assert response.json() == by_id(a, b, c)[::-1][:2]


@pytest.mark.parametrize(
    ("params", "body"),
    [
        (
            {"sortBy": "startTime", "sortOrder": "asc"},
            error(
                "InvalidRequestException",
                "Cannot set query parameter 'sortBy' to value 'startTime'",
            ),
        ),
        (
            {"sortBy": "businessKey", "sortOrder": "up"},
            error(
                "InvalidRequestException", "Cannot set query parameter 'sortOrder' to value 'up'"
            ),
        ),
        (
            {"sortBy": "businessKey"},
            error(
                "InvalidRequestException",
                "Only a single sorting parameter specified. sortBy and sortOrder required",
            ),
        ),
        (
            {"active": "yes"},
            error("InvalidRequestException", "Cannot set query parameter 'active' to value 'yes'"),
        ),
        (
            {"firstResult": "one"},
            error(
                "InvalidRequestException", "Cannot set query parameter 'firstResult' to value 'one'"
            ),
        ),
        (
            {"variables": "amount_gt"},
            error(
                "InvalidRequestException",
                "Cannot set query parameter 'variables' to value 'amount_gt'",
            ),
        ),
        (
            {"variables": "amount_bigger_4"},
            error("InvalidRequestException", "Invalid variable comparator specified: bigger"),
        ),
    ],
)
async def test_query_errors(client: httpx.AsyncClient, params, body) -> None:
    response = await client.get(PI, params=params)
    assert (response.status_code, response.json()) == (400, body)


async def test_post_sorting_errors(client: httpx.AsyncClient) -> None:
    response = await client.post(PI, json={"sorting": [{"sortBy": "nope", "sortOrder": "asc"}]})
    expected = error(
        "InvalidRequestException", "Cannot set query parameter 'sortBy' to value 'nope'"
    )
    assert (response.status_code, response.json()) == (400, expected)
    response = await client.post(
        PI, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()) == (400, error("InvalidRequestException", ""))


async def test_get_one(client: httpx.AsyncClient, store: Store, three) -> None:
    a = three["a"]
    response = await client.get(f"{PI}/{a['id']}")
    assert (response.status_code, response.json()) == (200, a)
    response = await client.get(f"{API}/engine/default/process-instance/{a['id']}")
    assert response.json() == a
    response = await client.get(f"{PI}/{MISSING}")
    expected = error(
        "InvalidRequestException", f"Process instance with id {MISSING} does not exist"
    )
    assert (response.status_code, response.json()) == (404, expected)


async def test_an_ended_instance_is_no_longer_listed(
    client: httpx.AsyncClient, store: Store
) -> None:
    instance_id = await start(store)
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("charge-card", 10_000)])
    await store.complete(task.id, "w")
    response = await client.get(f"{PI}/{instance_id}")
    assert response.status_code == 404
    assert (await client.get(PI)).json() == []
    assert (await client.get(f"{PI}/count")).json() == {"count": 0}
    response = await client.get(f"{PI}/{instance_id}/variables")
    assert response.status_code == 400
    response = await client.delete(f"{PI}/{instance_id}")
    assert response.status_code == 404


async def test_delete_removes_tasks_and_deletes_their_incidents(
    client: httpx.AsyncClient, store: Store
) -> None:
    instance_id = await start(store)
    other = await start(store)
    [task, other_task] = await store.fetch_and_lock("w", 2, [TopicRequest("charge-card", 10_000)])
    for t in (task, other_task):
        await store.handle_failure(t.id, "w", "boom", None, 0, 0)
    assert len(await store.incidents()) == 2
    victim = task if task.process_instance_id == instance_id else other_task

    response = await client.delete(f"{PI}/{instance_id}")
    assert (response.status_code, response.content) == (204, b"")
    assert (await client.get(f"{PI}/{instance_id}")).status_code == 404
    assert [i["id"] for i in (await client.get(PI)).json()] == [other]
    assert [i.process_instance_id for i in await store.incidents()] == [other]
    tasks = (
        await client.get(f"{API}/external-task", params={"processInstanceId": instance_id})
    ).json()
    assert tasks == []
    with pytest.raises(TaskNotFound):
        await store.complete(victim.id, "w")
    assert (
        await client.get(f"{API}/incident", params={"processInstanceId": instance_id})
    ).json() == []


async def test_delete_unknown(client: httpx.AsyncClient) -> None:
    response = await client.delete(f"{PI}/{MISSING}")
    expected = error(
        "InvalidRequestException",
        f"No process instance found for id '{MISSING}': processInstance is null",
        0,
    )
    assert (response.status_code, response.json()) == (404, expected)
    response = await client.delete(f"{PI}/{MISSING}", params={"failIfNotExists": "true"})
    assert response.status_code == 404
    response = await client.delete(f"{PI}/{MISSING}", params={"failIfNotExists": "false"})
    assert (response.status_code, response.content) == (204, b"")
    response = await client.delete(
        f"{API}/engine/default/process-instance/{MISSING}", params={"failIfNotExists": "FALSE"}
    )
    assert response.status_code == 204


async def test_delete_cancels_timers_and_message_subscriptions(
    client: httpx.AsyncClient, store: Store
) -> None:
    delay = {"reminderDelay": {"type": "String", "value": "PT1H"}}
    timed = await start(store, "reminders:1:test", delay)
    waiting = await start(store, "correlate:1:test")
    partition = store.keys.partition_of(timed)
    assert len(await store.redis.zrange(store.keys.timers(partition), 0, -1)) == 2
    for instance_id in (timed, waiting):
        assert (await client.delete(f"{PI}/{instance_id}")).status_code == 204
    for p in range(store.keys.partitions):
        assert await store.redis.zrange(store.keys.timers(p), 0, -1) == []
    with pytest.raises(MessageNotCorrelated):
        await store.correlate_message("PaymentReceived")
    assert await store.topic_stats() == []


# ------------------------------------------------------------------ variables


async def test_get_variables(client: httpx.AsyncClient, store: Store) -> None:
    variables = {
        "amount": {"type": "Integer", "value": 42},
        "due": {"type": "Date", "value": "2024-01-02T03:04:05.006+0100"},
        "doc": {"type": "File", "value": "aGk=", "valueInfo": {"filename": "a.txt"}},
    }
    instance_id = await start(store, variables=variables)
    expected = {
        "amount": {"type": "Integer", "value": 42, "valueInfo": {}},
        "due": {"type": "Date", "value": "2024-01-02T02:04:05.006+0000", "valueInfo": {}},
        "doc": {"type": "File", "value": None, "valueInfo": {"filename": "a.txt"}},
    }
    response = await client.get(f"{PI}/{instance_id}/variables")
    assert (response.status_code, response.json()) == (200, expected)
    response = await client.get(
        f"{PI}/{instance_id}/variables", params={"deserializeValues": "false"}
    )
    assert response.json() == expected
    response = await client.get(f"{PI}/{instance_id}/variables/due")
    assert (response.status_code, response.json()) == (200, expected["due"])
    response = await client.get(f"{PI}/{instance_id}/variables/nope")
    expected_error = error(
        "InvalidRequestException", "process instance variable with name nope does not exist"
    )
    assert (response.status_code, response.json()) == (404, expected_error)


async def test_variables_of_an_unknown_instance(client: httpx.AsyncClient) -> None:
    cause = f"execution {MISSING} doesn't exist: execution is null"
    base = f"{PI}/{MISSING}/variables"
    response = await client.get(base)
    assert (response.status_code, response.json()) == (400, error("NullValueException", cause, 0))
    cases = [
        (client.get(f"{base}/x"), "Cannot get process instance variable x"),
        (client.put(f"{base}/x", json={"value": 1}), "Cannot put process instance variable x"),
        (client.delete(f"{base}/x"), "Cannot delete process instance variable x"),
        (
            client.post(base, json={"modifications": {"x": {"value": 1}}}),
            f"Cannot modify variables for process instance {MISSING}",
        ),
    ]
    for call, prefix in cases:
        response = await call
        expected = error("RestException", f"{prefix}: {cause}", 0)
        assert (response.status_code, response.json()) == (400, expected)


async def test_put_post_delete_variables(client: httpx.AsyncClient, store: Store) -> None:
    instance_id = await start(store, variables={"keep": {"type": "String", "value": "k"}})
    base = f"{PI}/{instance_id}/variables"
    response = await client.put(f"{base}/amount", json={"type": "Long", "value": "7"})
    assert (response.status_code, response.content) == (204, b"")
    response = await client.put(f"{base}/flag", json={"value": True})
    assert response.status_code == 204
    response = await client.put(f"{base}/gone", json={"value": 1, "valueInfo": {"transient": True}})
    assert response.status_code == 204
    assert (await client.get(base)).json() == {
        "keep": {"type": "String", "value": "k", "valueInfo": {}},
        "amount": {"type": "Long", "value": 7, "valueInfo": {}},
        "flag": {"type": "Boolean", "value": True, "valueInfo": {}},
    }
    # modifications first, then deletions (a name in both ends up deleted)
    body = {
        "modifications": {"amount": {"type": "Integer", "value": 8}, "new": {"value": "n"}},
        "deletions": ["flag", "new", "never-set"],
    }
    response = await client.post(base, json=body)
    assert (response.status_code, response.content) == (204, b"")
    assert (await client.get(base)).json() == {
        "keep": {"type": "String", "value": "k", "valueInfo": {}},
        "amount": {"type": "Integer", "value": 8, "valueInfo": {}},
    }
    response = await client.delete(f"{base}/keep")
    assert (response.status_code, response.content) == (204, b"")
    response = await client.delete(f"{base}/never-set")
    assert response.status_code == 204
    assert (await client.get(base)).json() == {
        "amount": {"type": "Integer", "value": 8, "valueInfo": {}}
    }
    # the instance's tasks see the new values
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("charge-card", 10_000)])
    assert task.variables == {"amount": {"type": "Integer", "value": 8, "valueInfo": {}}}
    _, version = await store.instance_state(instance_id)
    assert version == 5  # start + 4 writes: a transient value or a missing name writes nothing


async def test_bad_variable_values(client: httpx.AsyncClient, store: Store) -> None:
    instance_id = await start(store)
    base = f"{PI}/{instance_id}/variables"
    response = await client.put(f"{base}/n", json={"type": "Integer", "value": "abc"})
    expected = error(
        "InvalidRequestException",
        "Cannot put process instance variable n: Cannot convert value 'abc' of type 'Integer' "
        "to java type java.lang.Integer",
    )
    assert (response.status_code, response.json()) == (400, expected)
    response = await client.put(f"{base}/n", json={"type": "Foo", "value": 1})
    expected = error(
        "InvalidRequestException",
        "Cannot put process instance variable n: Unsupported value type 'Foo'",
    )
    assert (response.status_code, response.json()) == (400, expected)
    response = await client.post(
        base, json={"modifications": {"n": {"type": "Boolean", "value": 3}}}
    )
    expected = error(
        "InvalidRequestException",
        "Cannot modify variables for process instance: Cannot convert value '3' of type "
        "'Boolean' to java type java.lang.Boolean",
    )
    assert (response.status_code, response.json()) == (400, expected)
    response = await client.put(f"{base}/n", json=[1])
    assert (response.status_code, response.json()) == (400, error("InvalidRequestException", ""))
    assert (await client.get(base)).json() == {}
    assert (await store.instance_state(instance_id))[1] == 1  # nothing written


async def test_concurrent_variable_writes_are_all_kept(
    client: httpx.AsyncClient, store: Store
) -> None:
    instance_id = await start(store)
    base = f"{PI}/{instance_id}/variables"
    calls = [client.put(f"{base}/v{n}", json={"value": n}) for n in range(12)]
    assert {r.status_code for r in await asyncio.gather(*calls)} == {204}
    values = (await client.get(base)).json()
    assert values == {f"v{n}": {"type": "Integer", "value": n, "valueInfo": {}} for n in range(12)}


async def test_instances_with_incidents(client: httpx.AsyncClient, store: Store, three) -> None:
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("pack", 10_000)])
    await store.handle_failure(task.id, "w", "no boxes left", None, 0, 0)
    [incident] = await store.incidents()
    c = three["c"]
    for params in (
        {"withIncident": "true"},
        {"incidentId": incident.id},
        {"incidentType": "failedExternalTask"},
        {"incidentMessage": "no boxes left"},
        {"incidentMessageLike": "%boxes%"},
    ):
        assert (await client.get(PI, params=params)).json() == [c]
    for params in ({"incidentType": "failedJob"}, {"incidentId": "other"}):
        assert (await client.get(PI, params=params)).json() == []
    assert (await client.post(f"{PI}/count", json={"withIncident": True})).json() == {"count": 1}
