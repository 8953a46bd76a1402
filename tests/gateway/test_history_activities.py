"""Historic activity instances (HistoricActivityInstanceDto): GET/POST
/history/activity-instance, /count and /{id}: every activity a process instance passed, with
its start, end, parent, cancellation and scope completion."""

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

HAI = f"{API}/history/activity-instance"


def at(offset_ms: int) -> str:
    """START_MS + offset in the REST date format (UTC)."""
    return dates.format_ms(START_MS + offset_ms, UTC)


HOUR = 3_600_000

# activity id -> (name, type)
ACTIVITIES = {
    "start": ("Order in", "startEvent"),
    "charge": ("Charge", "serviceTask"),
    "route": ("Route", "exclusiveGateway"),
    "ship": ("Ship", "subProcess"),
    "ship_start": (None, "startEvent"),
    "pack": ("Pack", "serviceTask"),
    "ship_end": (None, "noneEndEvent"),
    "done": ("Done", "noneEndEvent"),
    "too_slow": ("Too slow", "boundaryTimer"),
    "given_up": ("Given up", "terminateEndEvent"),
}


def hai(
    instance: dict[str, Any],
    activity_id: str,
    start: int,
    end: int | None,
    *,
    parent: str | None = None,
    canceled: bool = False,
    complete_scope: bool = False,
) -> dict[str, Any]:
    """The DTO expected, without ``id`` and ``executionId`` (generated)."""
    name, kind = ACTIVITIES[activity_id]
    ended = instance.get("end")
    return {
        "parentActivityInstanceId": parent or instance["id"],
        "activityId": activity_id,
        "activityName": name,
        "activityType": kind,
        "processDefinitionKey": "shipping",
        "processDefinitionId": instance["definition"],
        "processInstanceId": instance["id"],
        "taskId": None,
        "calledProcessInstanceId": None,
        "calledCaseInstanceId": None,
        "assignee": None,
        "startTime": at(start),
        "endTime": None if end is None else at(end),
        "durationInMillis": None if end is None else end - start,
        "canceled": canceled,
        "completeScope": complete_scope,
        "tenantId": None,
        "removalTime": None if ended is None else at(ended + TTL_MS),
        "rootProcessInstanceId": instance["id"],
    }


def generated(body: dict[str, Any]) -> dict[str, Any]:
    """A DTO without the generated ``id`` and ``executionId``."""
    return {k: v for k, v in body.items() if k not in ("id", "executionId")}


def occurrence(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A listing in the order the activities occurred (sortBy=occurrence)."""
    return [generated(i) for i in items]


@pytest.fixture
async def runs(client: httpx.AsyncClient, store: Store, clock: FakeClock) -> dict[str, Any]:
    """a: +0s..+3s completed through the sub-process; b: +3s..+4s deleted while charging;
    c: +4s, charged at +5s, its sub-process interrupted by the timer an hour later."""
    definition = await deploy_shipping(client)
    a = await start_shipping(client, "A")
    clock.advance(1000)
    await complete(client, await task_of(store, "charge", a))
    clock.advance(2000)
    await complete(client, await task_of(store, "pack", a))
    b = await start_shipping(client, "B")
    clock.advance(1000)
    assert (await client.delete(f"{API}/process-instance/{b}")).status_code == 204
    c = await start_shipping(client, "C")
    clock.advance(1000)
    await complete(client, await task_of(store, "charge", c))
    clock.advance(HOUR)
    assert await store.runtime.fire_due_timers(10) == 1
    return {
        "a": {"id": a, "definition": definition, "end": 3000},
        "b": {"id": b, "definition": definition, "end": 4000},
        "c": {"id": c, "definition": definition, "end": 5000 + HOUR},
    }


async def listing(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get(HAI, params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


async def test_every_activity_an_instance_passed_in_order(
    client: httpx.AsyncClient, runs: dict[str, Any]
) -> None:
    a = runs["a"]
    found = await listing(client, processInstanceId=a["id"], sortBy="occurrence", sortOrder="asc")
    ship = next(i for i in found if i["activityId"] == "ship")
    assert ship["id"].startswith("ship:")
    assert occurrence(found) == [
        hai(a, "start", 0, 0),
        hai(a, "charge", 0, 1000),
        hai(a, "route", 1000, 1000),
        hai(a, "ship", 1000, 3000),
        hai(a, "ship_start", 1000, 1000, parent=ship["id"]),
        hai(a, "pack", 1000, 3000, parent=ship["id"]),
        hai(a, "ship_end", 3000, 3000, parent=ship["id"], complete_scope=True),
        hai(a, "done", 3000, 3000, complete_scope=True),
    ]
    charge = next(i for i in found if i["activityId"] == "charge")
    # the external task names its activity instance and execution
    logs = (
        await client.get(f"{API}/history/external-task-log", params={"processInstanceId": a["id"]})
    ).json()
    assert {
        (x["activityInstanceId"], x["executionId"]) for x in logs if x["activityId"] == "charge"
    } == {(charge["id"], charge["executionId"])}


async def test_deleted_and_interrupted_activities_are_canceled(
    client: httpx.AsyncClient, runs: dict[str, Any]
) -> None:
    b, c = runs["b"], runs["c"]
    found_b = await listing(client, processInstanceId=b["id"], sortBy="occurrence", sortOrder="asc")
    assert occurrence(found_b) == [
        hai(b, "start", 3000, 3000),
        hai(b, "charge", 3000, 4000, canceled=True),
    ]
    found_c = await listing(client, processInstanceId=c["id"], sortBy="occurrence", sortOrder="asc")
    ship = next(i for i in found_c if i["activityId"] == "ship")
    fired = 5000 + HOUR
    assert occurrence(found_c) == [
        hai(c, "start", 4000, 4000),
        hai(c, "charge", 4000, 5000),
        hai(c, "route", 5000, 5000),
        hai(c, "ship", 5000, fired, canceled=True),
        hai(c, "ship_start", 5000, 5000, parent=ship["id"]),
        hai(c, "pack", 5000, fired, parent=ship["id"], canceled=True),
        hai(c, "too_slow", fired, fired),
        hai(c, "given_up", fired, fired, complete_scope=True),
    ]


async def test_historic_instances_name_their_start_and_end_activities(
    client: httpx.AsyncClient, runs: dict[str, Any]
) -> None:
    wanted = {"a": ("start", "done"), "b": ("start", None), "c": ("start", "given_up")}
    for name, (start, end) in wanted.items():
        response = await client.get(f"{API}/history/process-instance/{runs[name]['id']}")
        body = response.json()
        assert (body["startActivityId"], body["endActivityId"], body["state"]) == (
            start,
            end,
            "EXTERNALLY_TERMINATED" if name == "b" else "COMPLETED",
        )
        assert body["durationInMillis"] == runs[name]["end"] - {"a": 0, "b": 3000, "c": 4000}[name]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"activityId": "charge"}, {("a", "charge"), ("b", "charge"), ("c", "charge")}),
        ({"activityType": "subProcess"}, {("a", "ship"), ("c", "ship")}),
        ({"activityName": "Pack"}, {("a", "pack"), ("c", "pack")}),
        ({"canceled": "true"}, {("b", "charge"), ("c", "ship"), ("c", "pack")}),
        (
            {"completeScope": "true"},
            {("a", "ship_end"), ("a", "done"), ("c", "given_up")},
        ),
        ({"activityId": "pack", "unfinished": "true"}, set()),
        ({"activityId": "pack", "finished": "true"}, {("a", "pack"), ("c", "pack")}),
        ({"startedAfter": at(5000), "activityType": "startEvent"}, {("c", "ship_start")}),
        ({"startedBefore": at(0)}, {("a", "start"), ("a", "charge")}),
        (
            {"finishedAfter": at(5000 + HOUR)},
            {("c", n) for n in ("ship", "pack", "too_slow", "given_up")},
        ),
        ({"finishedBefore": at(1000), "activityType": "serviceTask"}, {("a", "charge")}),
        ({"taskAssignee": "anyone"}, set()),
        ({"tenantIdIn": "t1"}, set()),
        ({"withoutTenantId": "true", "activityId": "done"}, {("a", "done")}),
        ({"processDefinitionId": "other:1:x"}, set()),
    ],
)
async def test_filters(
    client: httpx.AsyncClient,
    runs: dict[str, Any],
    params: dict[str, str],
    expected: set[tuple[str, str]],
) -> None:
    names = {v["id"]: k for k, v in runs.items()}
    found = await listing(client, **params)
    assert {(names[i["processInstanceId"]], i["activityId"]) for i in found} == expected
    count = (await client.get(f"{HAI}/count", params=params)).json()
    assert count == {"count": len(expected)}
    body: dict[str, Any] = {
        k: (v.split(",") if k == "tenantIdIn" else v) for k, v in params.items()
    }
    for flag in ("canceled", "completeScope", "finished", "unfinished", "withoutTenantId"):
        if flag in body:
            body[flag] = True
    posted = (await client.post(HAI, json=body)).json()
    assert sorted(i["id"] for i in posted) == sorted(i["id"] for i in found)
    assert (await client.post(f"{HAI}/count", json=body)).json() == count


async def test_sorting_and_paging(client: httpx.AsyncClient, runs: dict[str, Any]) -> None:
    a = runs["a"]["id"]
    by_end = await listing(client, processInstanceId=a, sortBy="endTime", sortOrder="desc")
    assert [i["endTime"] for i in by_end] == sorted((i["endTime"] for i in by_end), reverse=True)
    by_type = await listing(
        client,
        processInstanceId=a,
        sortBy="activityType",
        sortOrder="asc",
        firstResult="1",
        maxResults="2",
    )
    assert [i["activityType"] for i in by_type] == ["noneEndEvent", "noneEndEvent"]
    default = await listing(client, processInstanceId=a)
    assert [i["id"] for i in default] == sorted(i["id"] for i in default)  # by id, as Camunda
    posted = await client.post(
        f"{HAI}?maxResults=3",
        json={"processInstanceId": a, "sorting": [{"sortBy": "duration", "sortOrder": "desc"}]},
    )
    assert [i["activityId"] for i in posted.json()][:1] in (["ship"], ["pack"])
    assert [i["durationInMillis"] for i in posted.json()] == [2000, 2000, 1000]


async def test_get_by_id_and_errors(client: httpx.AsyncClient, runs: dict[str, Any]) -> None:
    [pack] = await listing(client, processInstanceId=runs["a"]["id"], activityId="pack")
    response = await client.get(f"{HAI}/{pack['id']}")
    assert (response.status_code, response.json()) == (200, pack)
    response = await client.get(f"{HAI}/nope")
    assert (response.status_code, response.json()) == (
        404,
        error("InvalidRequestException", "Historic activity instance with id nope does not exist"),
    )
    response = await client.get(HAI, params={"canceled": "true", "completeScope": "true"})
    assert (response.status_code, response.json()) == (
        400,
        error(
            "ProcessEngineException", "Already querying for activity instance state <scopeComplete>"
        ),
    )
    response = await client.get(HAI, params={"sortBy": "name", "sortOrder": "asc"})
    assert (response.status_code, response.json()) == (
        400,
        error("InvalidRequestException", "Cannot set query parameter 'sortBy' to value 'name'"),
    )
    response = await client.get(HAI, params={"startedAfter": "yesterday"})
    assert (response.status_code, response.json()) == (
        400,
        error(
            "InvalidRequestException",
            "Cannot set query parameter 'startedAfter' to value 'yesterday'",
        ),
    )


async def test_a_running_instance_shows_what_it_waits_in(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    definition = await deploy_shipping(client)
    pi = await start_shipping(client)
    running = {"id": pi, "definition": definition}
    found = await listing(client, processInstanceId=pi, unfinished="true")
    assert occurrence(found) == [hai(running, "charge", 0, None)]
