"""Process-instance queries (ProcessInstanceRestServiceImpl, ProcessInstanceQueryDto): GET/POST
/process-instance and /count with filters (incident filters included), sorting and paging, and
GET /process-instance/{id}."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from redtask.broker.model import TopicRequest
from redtask.broker.store import Store
from tests.gateway.helpers import API, error
from tests.gateway.instance_helpers import MISSING, PI, by_id, dto, start

pytestmark = pytest.mark.usefixtures("serve_models")


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
