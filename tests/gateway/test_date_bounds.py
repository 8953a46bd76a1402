"""Durations that would end after the latest date redtask can store (5138-11-16T09:46:39.999Z,
``dates.LATEST_MS``) are refused with a 400 before anything is written: the task stays as it
was, and every read of the store keeps working."""

from __future__ import annotations

import pytest

from redtask.broker.dates import LATEST_MS
from tests.conftest import START_MS
from tests.gateway.helpers import ET, error, fetch_body, topic
from tests.gateway.operation_helpers import FETCH, fetch_ids, get, lock_for

LATEST = "5138-11-16T09:46:39.999+0000"
HUGE = [10**14, 10**15, 2**63 - 1]


def refused(name: str, duration: int) -> dict:
    message = f"{name} of {duration} ms ends after {LATEST}, the latest date"
    return error("ProcessEngineException", message, 0)


async def assert_reads_work(client, task_id: str) -> None:
    for path in [f"{ET}/{task_id}", ET, f"{ET}/count"]:
        response = await client.get(path)
        assert response.status_code == 200, path


@pytest.mark.parametrize("duration", HUGE)
async def test_a_fetch_whose_lock_would_end_after_the_latest_date_is_refused_and_locks_nothing(
    client, publish, duration
):
    task_id = await publish("t")

    response = await client.post(FETCH, json=fetch_body(topic("t", lock=duration)))

    assert response.status_code == 400
    assert response.json() == refused("lockDuration", duration)
    assert (await get(client, task_id))["lockExpirationTime"] is None
    assert await fetch_ids(client) == [task_id]  # still fetchable
    await assert_reads_work(client, task_id)


async def test_a_lock_ending_exactly_at_the_latest_date_is_taken_and_read_back(client, publish):
    task_id = await publish("t")

    response = await client.post(FETCH, json=fetch_body(topic("t", lock=LATEST_MS - START_MS)))

    assert response.status_code == 200
    assert response.json()[0]["lockExpirationTime"] == LATEST
    assert (await get(client, task_id))["lockExpirationTime"] == LATEST
    await assert_reads_work(client, task_id)


@pytest.mark.parametrize(
    ("op", "field", "name"),
    [("lock", "lockDuration", "lockDuration"), ("extendLock", "newDuration", "newDuration")],
)
@pytest.mark.parametrize("duration", HUGE)
async def test_lock_and_extend_lock_beyond_the_latest_date_are_refused(
    client, publish, op, field, name, duration
):
    task_id = await publish("t")
    await lock_for(client)
    before = await get(client, task_id)

    response = await client.post(f"{ET}/{task_id}/{op}", json={"workerId": "w", field: duration})

    assert response.status_code == 400
    assert response.json() == refused(name, duration)
    assert await get(client, task_id) == before
    await assert_reads_work(client, task_id)


@pytest.mark.parametrize("duration", HUGE)
async def test_a_failure_retrying_after_the_latest_date_is_refused(client, publish, duration):
    task_id = await publish("t")
    await lock_for(client)
    before = await get(client, task_id)
    body = {"workerId": "w", "errorMessage": "e", "retries": 1, "retryTimeout": duration}

    response = await client.post(f"{ET}/{task_id}/failure", json=body)

    assert response.status_code == 400
    assert response.json() == refused("retryTimeout", duration)
    assert await get(client, task_id) == before
    await assert_reads_work(client, task_id)


@pytest.mark.parametrize("path", ["retries", "retries-async"])
async def test_retries_of_2_pow_63_are_a_400(client, publish, path):
    task_id = await publish("t")
    body = {"externalTaskIds": [task_id], "retries": 2**63}
    response = await (client.post if path == "retries-async" else client.put)(
        f"{ET}/{path}", json=body
    )

    assert response.status_code == 400
    message = f"retries is out of range [{-(2**63)}, {2**63 - 1}]"
    assert response.json() == error("ProcessEngineException", message, 0)
    assert (await get(client, task_id))["retries"] is None
