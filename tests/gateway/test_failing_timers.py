"""A timer whose step fails (here: its input mapping computes more than
REDTASK_MAX_VARIABLES_BYTES) is a failing job, as in Camunda: retried after
REDTASK_TIMER_RETRY_DELAY_MS while retries are left (3), then parked with a failedJob incident
that ``PUT /job/{id}/retries`` resolves. Other timers keep firing meanwhile, and nothing of
the oversized step is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from redtask.broker import engine
from redtask.broker.scheduler import Scheduler
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from tests.conftest import FakeClock
from tests.gateway.constructs_helpers import API, deploy, fetch, start

MINUTE = 60_000
DELAY_MS = 5_000
LIMIT = 1024


@pytest.fixture
def settings(namespace: str, partitions: int) -> Settings:
    return Settings(
        namespace=namespace,
        partitions=partitions,
        data_dir=Path("unused"),
        max_variables_bytes=LIMIT,
        timer_retry_delay_ms=DELAY_MS,
    )


async def sweep(store: Store, clock: FakeClock, ms: int) -> None:
    clock.advance(ms)
    scheduler = Scheduler(store, "t")
    while await scheduler.run_once():
        pass


async def incidents(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/incident", params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


async def set_variable(client: httpx.AsyncClient, instance_id: str, value: str) -> None:
    response = await client.post(
        f"{API}/process-instance/{instance_id}/variables",
        json={"modifications": {"text": {"type": "String", "value": value}}},
    )
    assert response.status_code == 204, response.text


async def test_a_timer_step_over_the_variables_limit_fails_three_times_then_raises_an_incident(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deploy(client, "timer_then_mapping", own=True)
    bad = await start(client, "timer_mapping", {"text": "x" * 600})  # twice: 1,200 > 1,024 bytes
    good = await start(client, "timer_mapping", {"text": "ok"})

    await sweep(store, clock, MINUTE)  # first attempt fails; the other instance moves on
    assert [t["processInstanceId"] for t in await fetch(client, ["send"])] == [good]
    assert await incidents(client) == []
    await sweep(store, clock, DELAY_MS - 1)  # the retry is not due yet
    state, version = await store.instance_state(bad)
    assert version == 1
    await sweep(store, clock, 1)  # second attempt
    assert await incidents(client) == []
    await sweep(store, clock, DELAY_MS)  # third: no retries left
    [incident] = await incidents(client)
    await sweep(store, clock, 10 * DELAY_MS)  # parked: no more attempts

    state, version = await store.instance_state(bad)
    assert version == 1  # nothing of the oversized step was stored
    [timer] = state.timers
    assert incident == {
        "id": incident["id"],
        "processDefinitionId": incident["processDefinitionId"],
        "processInstanceId": bad,
        "executionId": timer.execution_id,
        "incidentTimestamp": incident["incidentTimestamp"],
        "incidentType": "failedJob",
        "activityId": "wait",
        "failedActivityId": "wait",
        "causeIncidentId": incident["id"],
        "rootCauseIncidentId": incident["id"],
        "configuration": timer.id,
        "tenantId": None,
        "incidentMessage": "Cannot evaluate the parameter 'twice' of 'send': the mappings of "
        "one step computed 1253 bytes, more than the limit of 1024 "
        "(REDTASK_MAX_VARIABLES_BYTES)",
        "jobDefinitionId": None,
        "annotation": None,
    }
    assert incident["processDefinitionId"].startswith("timer_mapping:1:")
    for params in (
        {"incidentType": "failedJob"},
        {"processInstanceId": bad},
        {"processDefinitionKeyIn": "timer_mapping"},
        {"configuration": timer.id},
    ):
        assert [i["id"] for i in await incidents(client, **params)] == [incident["id"]], params
    assert await incidents(client, incidentType="failedExternalTask") == []
    count = await client.get(f"{API}/incident/count")
    assert count.json() == {"count": 1}
    listed = await client.get(f"{API}/process-instance", params={"withIncident": "true"})
    assert [i["id"] for i in listed.json()] == [bad]
    statistics = await client.get(
        f"{API}/process-definition/{incident['processDefinitionId']}/statistics",
        params={"failedJobs": "true", "incidentsForType": "failedJob"},
    )
    assert statistics.json() == [
        {"id": "send", "instances": 1, "failedJobs": 0, "incidents": []},
        {
            "id": "wait",
            "instances": 1,
            "failedJobs": 1,
            "incidents": [{"incidentType": "failedJob", "incidentCount": 1}],
        },
    ]

    # the operator fixes the data, then retries the job: the step runs at the next pass
    await set_variable(client, bad, "y" * 10)
    retried = await client.put(f"{API}/job/{timer.id}/retries", json={"retries": 1})
    assert retried.status_code == 204, retried.text
    assert await incidents(client) == []
    [historic] = (await client.get(f"{API}/history/incident", params={"resolved": "true"})).json()
    assert (historic["id"], historic["incidentType"], historic["failedActivityId"]) == (
        incident["id"],
        "failedJob",
        "wait",
    )
    assert (historic["configuration"], historic["open"], historic["resolved"]) == (
        timer.id,
        False,
        True,
    )
    await sweep(store, clock, 1)
    [task] = await fetch(client, ["send"])
    assert task["processInstanceId"] == bad
    assert task["variables"]["twice"]["value"] == "y" * 20
    again = await client.put(f"{API}/job/{timer.id}/retries", json={"retries": 1})
    assert again.status_code == 400  # the timer fired: no such job any more
    for key in (store.keys.timer_jobs(p) for p in range(store.keys.partitions)):
        assert await store.redis.hlen(key) == 0


async def test_cancelling_an_instance_removes_its_timer_incident(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deploy(client, "timer_then_mapping", own=True)
    bad = await start(client, "timer_mapping", {"text": "x" * 600})
    for _ in range(3):
        await sweep(store, clock, MINUTE)
    [incident] = await incidents(client)

    deleted = await client.delete(f"{API}/process-instance/{bad}")

    assert deleted.status_code == 204, deleted.text
    assert await incidents(client) == []
    missing = await client.get(f"{API}/incident/{incident['id']}")
    assert missing.status_code == 404
    retried = await client.put(
        f"{API}/job/{incident['configuration']}/retries", json={"retries": 1}
    )
    assert retried.status_code == 400
    for p in range(store.keys.partitions):
        for key in (store.keys.timer_jobs(p), store.keys.timer_incidents(p)):
            assert await store.redis.hlen(key) == 0
        assert await store.redis.zcard(store.keys.timers(p)) == 0


async def test_retries_zero_parks_a_failing_timer_with_an_incident_at_once(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deploy(client, "timer_then_mapping", own=True)
    bad = await start(client, "timer_mapping", {"text": "x" * 600})
    await sweep(store, clock, MINUTE)  # one failure: two retries left
    state, _ = await store.instance_state(bad)
    [timer] = state.timers

    parked = await client.put(f"{API}/job/{timer.id}/retries", json={"retries": 0})

    assert parked.status_code == 204, parked.text
    [incident] = await incidents(client)
    assert (incident["incidentType"], incident["configuration"]) == ("failedJob", timer.id)
    await sweep(store, clock, 10 * DELAY_MS)
    assert [i["id"] for i in await incidents(client)] == [incident["id"]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {},
            "The number of job retries must be a non-negative Integer, "
            "but 'null' has been provided.",
        ),
        (
            {"retries": -1},
            "The number of job retries must be a non-negative Integer, but '-1' has been provided.",
        ),
        (
            {"retries": 2**31},
            "The number of job retries must be a non-negative Integer, "
            f"but '{2**31}' has been provided.",
        ),
    ],
)
async def test_bad_job_retries_are_refused(
    client: httpx.AsyncClient, body: dict[str, Any], message: str
) -> None:
    response = await client.put(f"{API}/job/some-job/retries", json=body)
    assert response.status_code == 400
    assert response.json() == {"type": "InvalidRequestException", "message": message, "code": None}


async def test_retries_of_an_unknown_job_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.put(f"{API}/job/no-such-job/retries", json={"retries": 1})
    assert response.status_code == 400
    assert response.json() == {
        "type": "InvalidRequestException",
        "message": "No job found with id 'no-such-job'.",
        "code": None,
    }


async def test_an_unexpected_error_in_a_timer_step_fails_the_job_and_the_scheduler_goes_on(
    client: httpx.AsyncClient,
    store: Store,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await deploy(client, "timer_then_mapping", own=True)
    bad = await start(client, "timer_mapping", {"text": "ok"})

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(engine, "fire_timer", broken)
    for _ in range(3):
        await sweep(store, clock, MINUTE)

    [incident] = await incidents(client)
    assert (incident["processInstanceId"], incident["incidentMessage"]) == (
        bad,
        "RuntimeError: boom",
    )
    records = [r for r in caplog.records if r.name == "redtask.broker.instances"]
    timer = incident["configuration"]
    assert [(r.levelname, r.getMessage()) for r in records] == [
        (
            "WARNING",
            f"timer {timer} of process instance {bad} failed (RuntimeError: boom); retries left: 2",
        ),
        (
            "WARNING",
            f"timer {timer} of process instance {bad} failed (RuntimeError: boom); retries left: 1",
        ),
        (
            "ERROR",
            f"timer {timer} of process instance {bad} failed (RuntimeError: boom); "
            f"no retries left: incident {incident['id']}",
        ),
    ]
    assert all(r.exc_info is not None for r in records)  # a bug: the traceback is logged
