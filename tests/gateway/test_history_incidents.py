"""Historic incidents (HistoricIncidentDto): GET /history/incident and /count: open incidents
and the resolved and deleted ones of kept instances."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import httpx
import pytest

from redtask.broker import dates
from redtask.broker.store import Store
from tests.conftest import START_MS, FakeClock
from tests.gateway.helpers import API
from tests.gateway.history_helpers import deploy_shipping, start_shipping, task_of
from tests.gateway.test_history import TTL_MS

HI = f"{API}/history/incident"


def at(offset_ms: int | None) -> str | None:
    return None if offset_ms is None else dates.format_ms(START_MS + offset_ms, UTC)


async def fail(client: httpx.AsyncClient, task_id: str, message: str) -> None:
    body = {"workerId": "w", "errorMessage": message, "retries": 0, "retryTimeout": 0}
    response = await client.post(f"{API}/external-task/{task_id}/failure", json=body)
    assert response.status_code == 204, response.text


@pytest.fixture
async def runs(client: httpx.AsyncClient, store: Store, clock: FakeClock) -> dict[str, Any]:
    """a: an incident at +1s resolved at +2s, another one open since +3s; b: an incident at
    +1s, deleted with its instance at +4s."""
    definition = await deploy_shipping(client)
    a, b = await start_shipping(client), await start_shipping(client)
    a_task, b_task = await task_of(store, "charge", a), await task_of(store, "charge", b)
    clock.advance(1000)
    await fail(client, a_task, "first")
    await fail(client, b_task, "other")
    clock.advance(1000)
    response = await client.put(f"{API}/external-task/{a_task}/retries", json={"retries": 1})
    assert response.status_code == 204
    await task_of(store, "charge", a)
    clock.advance(1000)
    await fail(client, a_task, "second")
    clock.advance(1000)
    assert (await client.delete(f"{API}/process-instance/{b}")).status_code == 204
    return {"definition": definition, "a": a, "b": b, "a_task": a_task, "b_task": b_task}


def incident(
    runs: dict[str, Any], name: str, message: str, state: str, created: int, end: int | None
) -> dict[str, Any]:
    """The DTO expected, without ``id``, ``causeIncidentId``, ``rootCauseIncidentId``,
    ``executionId``."""
    ended = 4000 if name == "b" else None
    return {
        "processDefinitionKey": "shipping",
        "processDefinitionId": runs["definition"],
        "processInstanceId": runs[name],
        "rootProcessInstanceId": runs[name],
        "createTime": at(created),
        "endTime": at(end),
        "removalTime": None if ended is None else at(ended + TTL_MS),
        "incidentType": "failedExternalTask",
        "activityId": "charge",
        "failedActivityId": None,
        "configuration": runs[f"{name}_task"],
        "historyConfiguration": None,
        "incidentMessage": message,
        "tenantId": None,
        "jobDefinitionId": None,
        "open": state == "open",
        "deleted": state == "deleted",
        "resolved": state == "resolved",
        "annotation": None,
    }


def without_ids(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    generated = ("id", "causeIncidentId", "rootCauseIncidentId", "executionId")
    for item in items:
        assert item["causeIncidentId"] == item["rootCauseIncidentId"] == item["id"]
    return [{k: v for k, v in i.items() if k not in generated} for i in items]


async def test_open_resolved_and_deleted_incidents(
    client: httpx.AsyncClient, runs: dict[str, Any]
) -> None:
    response = await client.get(HI, params={"sortBy": "createTime", "sortOrder": "asc"})
    found = sorted(response.json(), key=lambda i: (i["createTime"], i["incidentMessage"]))
    assert without_ids(found) == [
        incident(runs, "a", "first", "resolved", 1000, 2000),
        incident(runs, "b", "other", "deleted", 1000, 4000),
        incident(runs, "a", "second", "open", 3000, None),
    ]
    [open_one] = (await client.get(f"{API}/incident")).json()
    assert open_one["id"] == found[2]["id"]


@pytest.mark.parametrize(
    ("params", "messages"),
    [
        ({"open": "true"}, ["second"]),
        ({"open": "false"}, ["second"]),  # Camunda: any value of open asks for open ones
        ({"resolved": "true"}, ["first"]),
        ({"deleted": "true"}, ["other"]),
        ({"resolved": "true", "deleted": "true"}, []),
        ({"incidentType": "failedExternalTask"}, ["first", "other", "second"]),
        ({"incidentType": "failedJob"}, []),
        ({"incidentMessageLike": "%s%"}, ["first", "second"]),
        (
            {"activityId": "charge", "processDefinitionKey": "shipping"},
            ["first", "other", "second"],
        ),
        ({"createTimeAfter": at(2000)}, ["second"]),
        ({"endTimeBefore": at(3000)}, ["first"]),
        ({"jobDefinitionIdIn": "j1"}, []),
        ({"withoutTenantId": "true", "deleted": "true"}, ["other"]),
    ],
)
async def test_filters(
    client: httpx.AsyncClient, runs: dict[str, Any], params: dict[str, str], messages: list[str]
) -> None:
    found = (await client.get(HI, params=params)).json()
    assert sorted(i["incidentMessage"] for i in found) == messages
    assert (await client.get(f"{HI}/count", params=params)).json() == {"count": len(messages)}


async def test_by_instance_sorted_by_state(client: httpx.AsyncClient, runs: dict[str, Any]) -> None:
    params = {"processInstanceId": runs["a"], "sortBy": "incidentState", "sortOrder": "desc"}
    found = (await client.get(HI, params=params)).json()
    assert [(i["incidentMessage"], i["resolved"]) for i in found] == [
        ("first", True),
        ("second", False),
    ]
    response = await client.get(HI, params={"sortBy": "state", "sortOrder": "asc"})
    assert response.status_code == 400
