"""The external-task log (HistoricExternalTaskLogDto): GET/POST /history/external-task-log,
/count, /{id} and /{id}/error-details: every external task of a process instance, created,
failed (with its message and details), succeeded and deleted."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import httpx
import pytest

from redtask.broker import dates
from redtask.broker.store import Store
from tests.conftest import START_MS, FakeClock
from tests.gateway.helpers import API, error
from tests.gateway.history_helpers import complete, deploy_shipping, start_shipping, task_of
from tests.gateway.test_history import TTL_MS

LOG = f"{API}/history/external-task-log"


def at(offset_ms: int) -> str | None:
    return dates.format_ms(START_MS + offset_ms, UTC)


def entry(
    instance: dict[str, Any],
    task: str,
    kind: str,
    when: int,
    *,
    topic: str = "charge",
    worker: str | None = None,
    retries: int | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """The DTO expected, without ``id``, ``activityInstanceId`` and ``executionId``."""
    ended = instance.get("end")
    return {
        "timestamp": at(when),
        "removalTime": None if ended is None else at(ended + TTL_MS),
        "externalTaskId": task,
        "topicName": topic,
        "workerId": worker,
        "priority": 7 if topic == "charge" else 0,
        "retries": retries,
        "errorMessage": message,
        "activityId": topic if topic == "charge" else "pack",
        "processInstanceId": instance["id"],
        "processDefinitionId": instance["definition"],
        "processDefinitionKey": "shipping",
        "tenantId": None,
        "rootProcessInstanceId": instance["id"],
        "creationLog": kind == "created",
        "failureLog": kind == "failed",
        "successLog": kind == "succeeded",
        "deletionLog": kind == "deleted",
    }


def generated(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("id", "activityInstanceId", "executionId")}


@pytest.fixture
async def runs(client: httpx.AsyncClient, store: Store, clock: FakeClock) -> dict[str, Any]:
    """a: charge fails twice (once with details), then succeeds; pack succeeds (+0s..+4s).
    b: started at +4s, deleted at +5s while charging."""
    definition = await deploy_shipping(client)
    a = await start_shipping(client, "A")
    charge = await task_of(store, "charge", a, "w1")
    clock.advance(1000)
    failure = {"workerId": "w1", "errorMessage": "card declined", "retries": 2, "retryTimeout": 0}
    response = await client.post(
        f"{API}/external-task/{charge}/failure", json={**failure, "errorDetails": "trace 1"}
    )
    assert response.status_code == 204, response.text
    await task_of(store, "charge", a, "w2")
    clock.advance(1000)
    failure = {"workerId": "w2", "errorMessage": "timeout", "retries": 1, "retryTimeout": 0}
    assert (
        await client.post(f"{API}/external-task/{charge}/failure", json=failure)
    ).status_code == 204
    await task_of(store, "charge", a, "w3")
    clock.advance(1000)
    await complete(client, charge, "w3")
    pack = await task_of(store, "pack", a, "w4")
    clock.advance(1000)
    await complete(client, pack, "w4")
    b = await start_shipping(client, "B")
    b_charge = (await client.get(f"{API}/external-task", params={"processInstanceId": b})).json()[
        0
    ]["id"]
    clock.advance(1000)
    assert (await client.delete(f"{API}/process-instance/{b}")).status_code == 204
    return {
        "a": {"id": a, "definition": definition, "end": 4000},
        "b": {"id": b, "definition": definition, "end": 5000},
        "charge": charge,
        "pack": pack,
        "b_charge": b_charge,
    }


async def listing(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get(LOG, params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


async def test_the_audit_trail_of_each_task(
    client: httpx.AsyncClient, runs: dict[str, Any]
) -> None:
    a, b = runs["a"], runs["b"]
    charge, pack = runs["charge"], runs["pack"]
    found = await listing(client, sortBy="timestamp", sortOrder="asc")
    found.sort(key=lambda x: (x["timestamp"], not x["creationLog"]))  # stable: ties by id
    assert [generated(x) for x in found] == [
        entry(a, charge, "created", 0),
        entry(a, charge, "failed", 1000, worker="w1", retries=2, message="card declined"),
        entry(a, charge, "failed", 2000, worker="w2", retries=1, message="timeout"),
        entry(a, pack, "created", 3000, topic="pack"),
        entry(a, charge, "succeeded", 3000, worker="w3", retries=1, message="timeout"),
        entry(b, runs["b_charge"], "created", 4000),
        entry(a, pack, "succeeded", 4000, topic="pack", worker="w4"),
        entry(b, runs["b_charge"], "deleted", 5000),
    ]
    [first, second] = [x for x in found if x["failureLog"]]
    response = await client.get(f"{LOG}/{first['id']}/error-details")
    assert (response.status_code, response.text) == (200, "trace 1")
    assert response.headers["content-type"].startswith("text/plain")
    # the second failure sent no details: the task's details are kept, as Camunda does
    response = await client.get(f"{LOG}/{second['id']}/error-details")
    assert (response.status_code, response.text) == (200, "trace 1")
    created = found[0]
    assert (await client.get(f"{LOG}/{created['id']}/error-details")).status_code == 204
    response = await client.get(f"{LOG}/{created['id']}")
    assert (response.status_code, response.json()) == (200, created)


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({"failureLog": "true"}, 2),
        ({"creationLog": "true"}, 3),
        ({"successLog": "true"}, 2),
        ({"deletionLog": "true"}, 1),
        ({"creationLog": "true", "deletionLog": "true"}, 0),
        ({"workerId": "w2"}, 1),
        ({"errorMessage": "timeout"}, 2),
        ({"topicName": "pack"}, 2),
        ({"activityIdIn": "pack,nothing"}, 2),
        ({"priorityHigherThanOrEquals": "7"}, 6),
        ({"priorityLowerThanOrEquals": "0"}, 2),
        ({"processDefinitionKey": "shipping"}, 8),
        ({"processDefinitionKey": "other"}, 0),
        ({"tenantIdIn": "t1"}, 0),
    ],
)
async def test_filters(
    client: httpx.AsyncClient, runs: dict[str, Any], params: dict[str, str], count: int
) -> None:
    found = await listing(client, **params)
    assert len(found) == count
    assert (await client.get(f"{LOG}/count", params=params)).json() == {"count": count}
    body: dict[str, Any] = {}
    for name, value in params.items():
        if name.endswith("In"):
            body[name] = value.split(",")
        elif value == "true":
            body[name] = True
        else:
            body[name] = int(value) if name.startswith("priority") else value
    posted = (await client.post(LOG, json=body)).json()
    assert sorted(x["id"] for x in posted) == sorted(x["id"] for x in found)
    assert (await client.post(f"{LOG}/count", json=body)).json() == {"count": count}


async def test_by_task_instance_sorting_and_paging(
    client: httpx.AsyncClient, runs: dict[str, Any]
) -> None:
    charge = runs["charge"]
    by_task = await listing(client, taskId=charge, sortBy="timestamp", sortOrder="desc")
    assert [x["timestamp"] for x in by_task] == [at(3000), at(2000), at(1000), at(0)]
    of_b = await listing(client, processInstanceId=runs["b"]["id"])
    assert {x["externalTaskId"] for x in of_b} == {runs["b_charge"]}
    page = await listing(
        client, sortBy="workerId", sortOrder="asc", firstResult="1", maxResults="2"
    )
    assert [x["workerId"] for x in page] == ["w2", "w3"]


async def test_unknown_ids(client: httpx.AsyncClient, runs: dict[str, Any]) -> None:
    response = await client.get(f"{LOG}/nope")
    assert (response.status_code, response.json()) == (
        404,
        error("InvalidRequestException", "Historic external task log with id nope does not exist"),
    )
    response = await client.get(f"{LOG}/nope/error-details")
    assert (response.status_code, response.json()) == (
        404,
        error(
            "InvalidRequestException",
            "No historic external task log found with id nope: historicExternalTaskLog is null",
        ),
    )
    response = await client.get(LOG, params={"sortBy": "id", "sortOrder": "asc"})
    assert response.status_code == 400
