"""Historic process instances (HistoricProcessInstanceDto): GET /history/process-instance, its
/count and /{id}, over running instances and the ended ones kept for ``history_ttl_s``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from redtask.broker.bpmn import ProcessModel
from redtask.broker.model import TopicRequest
from redtask.broker.scheduler import Scheduler
from redtask.broker.store import Store
from tests.conftest import START_MS, FakeClock
from tests.gateway.helpers import API, error
from tests.gateway.instance_helpers import MODELS, start
from tests.gateway.test_process_flow import _deploy

HPI = f"{API}/history/process-instance"
TTL_MS = 7 * 24 * 3600 * 1000  # the default history_ttl_s


def at(offset_ms: int) -> str:
    """START_MS + offset in the REST date format (UTC, the default timezone)."""
    seconds, millis = divmod(offset_ms, 1000)
    minutes, seconds = divmod(20 + seconds, 60)
    hours, minutes = divmod(13 + minutes, 60)
    assert hours < 2, "keep offsets small"
    return f"2023-11-14T{22 + hours}:{minutes:02d}:{seconds:02d}.{millis:03d}+0000"


@pytest.fixture
def models(store: Store, app: FastAPI) -> None:
    """The test models in place of deployments (set after the app's start)."""

    async def lookup(definition_id: str) -> ProcessModel:
        return MODELS[definition_id]

    store.models = lookup


def dto(
    id: str,
    business_key: str | None,
    state: str,
    start_ms: int,
    end_ms: int | None = None,
    tenant_id: str | None = None,
    end_activity_id: str | None = None,
) -> dict[str, Any]:
    return {
        "id": id,
        "businessKey": business_key,
        "processDefinitionId": "order:1:test",
        "processDefinitionKey": "order",
        "processDefinitionName": None,  # not deployed
        "processDefinitionVersion": None,
        "startTime": at(start_ms),
        "endTime": None if end_ms is None else at(end_ms),
        "removalTime": None if end_ms is None else _far(end_ms + TTL_MS),
        "durationInMillis": None if end_ms is None else end_ms - start_ms,
        "startUserId": None,
        "startActivityId": None,
        "endActivityId": end_activity_id,
        "deleteReason": None,
        "rootProcessInstanceId": id,
        "superProcessInstanceId": None,
        "superCaseInstanceId": None,
        "caseInstanceId": None,
        "tenantId": tenant_id,
        "state": state,
        "restartedProcessInstanceId": None,
    }


def _far(offset_ms: int) -> str:
    """START_MS + offset ms, where offset is a week plus a few seconds."""
    assert offset_ms - TTL_MS < 40_000
    return f"2023-11-21T22:13:{20 + (offset_ms - TTL_MS) // 1000:02d}.000+0000"


async def _complete(store: Store, instance_id: str) -> None:
    tasks = await store.fetch_and_lock("w", 10, [TopicRequest("charge-card", 10_000)])
    [task] = [t for t in tasks if t.process_instance_id == instance_id]
    await store.complete(task.id, "w")


@pytest.fixture
async def three(
    client: httpx.AsyncClient, store: Store, clock: FakeClock, models: None
) -> dict[str, dict[str, Any]]:
    """a: running since +0s (B-1); b: +1s..+3s completed (B-2, tenant t1); c: +3s..+4s deleted."""
    a = await start(store, business_key="B-1")
    clock.advance(1000)
    b = await start(store, business_key="B-2", tenant_id="t1")
    clock.advance(2000)
    await _complete(store, b)
    c = await start(store)
    clock.advance(1000)
    assert (await client.delete(f"{API}/process-instance/{c}")).status_code == 204
    return {
        "a": dto(a, "B-1", "ACTIVE", 0),
        "b": dto(b, "B-2", "COMPLETED", 1000, 3000, "t1", "end"),
        "c": dto(c, None, "EXTERNALLY_TERMINATED", 3000, 4000),
    }


def by_id(*items: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda i: i["id"])


async def test_list_count_and_get_on_both_prefixes(client: httpx.AsyncClient, three) -> None:
    expected = by_id(*three.values())
    for base in (HPI, f"{API}/engine/default/history/process-instance"):
        response = await client.get(base)
        assert (response.status_code, response.json()) == (200, expected)
        assert (await client.get(f"{base}/count")).json() == {"count": 3}
        for item in three.values():
            response = await client.get(f"{base}/{item['id']}")
            assert (response.status_code, response.json()) == (200, item)


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"finished": "true"}, "bc"),
        ({"unfinished": "true"}, "a"),
        ({"finished": "true", "unfinished": "true"}, ""),
        ({"active": "true"}, "a"),
        ({"completed": "true"}, "b"),
        ({"externallyTerminated": "true"}, "c"),
        ({"active": "true", "completed": "true"}, ""),
        ({"suspended": "true"}, ""),
        ({"internallyTerminated": "true"}, ""),
        ({"processInstanceBusinessKey": "B-2"}, "b"),
        ({"processDefinitionKey": "order"}, "abc"),
        ({"processDefinitionKey": "fulfil"}, ""),
        ({"processDefinitionId": "order:1:test"}, "abc"),
        ({"tenantIdIn": "t1,t2"}, "b"),
        ({"startedAfter": at(1000)}, "bc"),
        ({"startedBefore": at(1000)}, "ab"),
        ({"startedAfter": "2023-11-14T22:13:21.001+0000"}, "c"),
        ({"finishedAfter": at(3500)}, "c"),
        ({"finishedBefore": at(3000)}, "b"),
        ({"finishedBefore": at(9000)}, "bc"),
        ({"unknownParameter": "ignored"}, "abc"),
    ],
)
async def test_filters(client: httpx.AsyncClient, three, params, names) -> None:
    response = await client.get(HPI, params=params)
    assert (response.status_code, response.json()) == (200, by_id(*(three[n] for n in names)))
    assert (await client.get(f"{HPI}/count", params=params)).json() == {"count": len(names)}


async def test_instance_id_filters(client: httpx.AsyncClient, three) -> None:
    a, b, c = (three[n] for n in "abc")
    response = await client.get(HPI, params={"processInstanceId": b["id"]})
    assert response.json() == [b]
    response = await client.get(HPI, params={"processInstanceIds": f"{c['id']},{a['id']},x"})
    assert response.json() == by_id(a, c)
    response = await client.get(
        f"{HPI}/count", params={"processInstanceIds": f"{a['id']},{c['id']}", "finished": "true"}
    )
    assert response.json() == {"count": 1}


@pytest.mark.parametrize(
    ("sort_by", "order"),
    [
        ("startTime", "abc"),
        ("endTime", "bca"),  # nulls last
        ("duration", "cba"),
        ("businessKey", "abc"),
    ],
)
async def test_sorting_and_paging(client: httpx.AsyncClient, three, sort_by, order) -> None:
    expected = [three[n] for n in order]
    response = await client.get(HPI, params={"sortBy": sort_by, "sortOrder": "asc"})
    assert response.json() == expected
    params = {"sortBy": sort_by, "sortOrder": "asc", "firstResult": "1", "maxResults": "1"}
    assert (await client.get(HPI, params=params)).json() == expected[1:2]


async def test_sort_descending_by_tenant_keeps_nulls_last(client: httpx.AsyncClient, three):
    response = await client.get(HPI, params={"sortBy": "tenantId", "sortOrder": "desc"})
    assert response.json() == [three["b"], *by_id(three["a"], three["c"])]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"sortBy": "nope", "sortOrder": "asc"},
            "Cannot set query parameter 'sortBy' to value 'nope'",
        ),
        (
            {"sortBy": "startTime"},
            "Only a single sorting parameter specified. sortBy and sortOrder required",
        ),
        ({"finished": "yes"}, "Cannot set query parameter 'finished' to value 'yes'"),
        ({"startedAfter": "soon"}, "Cannot set query parameter 'startedAfter' to value 'soon'"),
        ({"maxResults": "x"}, "Cannot set query parameter 'maxResults' to value 'x'"),
    ],
)
async def test_bad_parameters_are_400(client: httpx.AsyncClient, models, params, message) -> None:
    # /count reads neither sorting nor paging
    urls = (HPI,) if {"sortBy", "maxResults"} & set(params) else (HPI, f"{HPI}/count")
    for url in urls:
        response = await client.get(url, params=params)
        expected = error("InvalidRequestException", message)
        assert (response.status_code, response.json()) == (400, expected)


async def test_unknown_or_expired_instance_is_404(
    client: httpx.AsyncClient, store: Store, models: None
) -> None:
    response = await client.get(f"{HPI}/nope")
    expected = error(
        "InvalidRequestException", "Historic process instance with id nope does not exist"
    )
    assert (response.status_code, response.json()) == (404, expected)

    ended = await start(store)
    await _complete(store, ended)
    assert (await client.get(f"{HPI}/count")).json() == {"count": 1}
    # the hash expired while its id is still in the ended ZSET: skipped, not an error
    await store.redis.delete(store.keys.instance(ended))
    assert (await client.get(HPI)).json() == []
    assert (await client.get(f"{HPI}/count", params={"finished": "true"})).json() == {"count": 0}
    assert (await client.get(f"{HPI}/{ended}")).status_code == 404


async def test_ended_instances_past_their_retention_are_no_longer_listed(
    client: httpx.AsyncClient, store: Store, clock: FakeClock, three
) -> None:
    """b ended at +3s, c at +4s; the scheduler's pass forgets each once end + TTL has passed."""
    clock.advance(TTL_MS - 1000)  # now = +3s + TTL: b's retention is over, c's not yet
    await Scheduler(store).run_once()
    assert (await client.get(HPI)).json() == by_id(three["a"], three["c"])
    assert (await client.get(f"{HPI}/count", params={"finished": "true"})).json() == {"count": 1}
    response = await client.get(f"{HPI}/{three['b']['id']}")
    expected = error(
        "InvalidRequestException",
        f"Historic process instance with id {three['b']['id']} does not exist",
    )
    assert (response.status_code, response.json()) == (404, expected)
    ids = {"processInstanceIds": f"{three['b']['id']},{three['c']['id']}"}
    assert (await client.get(HPI, params=ids)).json() == [three["c"]]

    clock.advance(1000)
    await Scheduler(store).run_once()
    assert (await client.get(HPI)).json() == [three["a"]]
    ended = [await store.redis.zcard(store.keys.history(p)) for p in range(store.keys.partitions)]
    assert sum(ended) == 0


async def test_a_deployed_definition_gives_name_and_version(
    client: httpx.AsyncClient, store: Store
) -> None:
    deployment = await _deploy(client, "simple")
    [definition_id] = deployment["deployedProcessDefinitions"]
    response = await client.post(f"{API}/process-definition/key/order/start", json={})
    instance_id = response.json()["id"]
    response = await client.get(f"{HPI}/{instance_id}")
    body = response.json()
    assert (response.status_code, body["processDefinitionId"]) == (200, definition_id)
    assert (body["processDefinitionName"], body["processDefinitionVersion"]) == ("Order", 1)
    assert (await client.get(HPI)).json() == [body]
    assert body["startTime"] == at(0) and body["state"] == "ACTIVE"
    assert START_MS == 1_700_000_000_000
