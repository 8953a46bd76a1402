"""POST /external-task/fetchAndLock with asyncResponseTimeout, in-process (FetchAndLockHandlerImpl's
long polling): the timeout's limit, an empty answer when it ends, and a parked poll woken by a
published, extension-API or unlocked task of its topic."""

from __future__ import annotations

import asyncio
import time

from redtask.broker.query import TaskQuery
from tests.gateway.fetch_helpers import FETCH, fetch, fetched_ids
from tests.gateway.helpers import ET, error, fetch_body, topic

# ------------------------------------------------------------------ asyncResponseTimeout


async def test_an_async_response_timeout_over_1800000_ms_is_refused_before_anything_else(client):
    response = await client.post(FETCH, json={"asyncResponseTimeout": 1_800_001})

    assert response.status_code == 400
    assert response.json() == error(
        "InvalidRequestException",
        "The asynchronous response timeout cannot be set to a value greater than "
        "1800000 milliseconds",
    )


async def test_an_async_response_timeout_of_1800000_ms_answers_at_once_when_tasks_exist(
    client, publish
):
    task_id = await publish("t")
    started = time.monotonic()

    ids = await fetched_ids(client, fetch_body(topic("t"), asyncResponseTimeout=1_800_000))

    assert ids == [task_id]
    assert time.monotonic() - started < 1


# ------------------------------------------------------------------ long polling


async def test_a_long_poll_that_times_out_answers_an_empty_list_after_the_timeout(client):
    started = time.monotonic()

    response = await client.post(FETCH, json=fetch_body(topic("t"), asyncResponseTimeout=300))

    waited = time.monotonic() - started
    assert (response.status_code, response.json()) == (200, [])
    assert 0.3 <= waited < 1.5


async def test_a_long_poll_with_tasks_available_answers_at_once(client, publish):
    task_id = await publish("t")
    started = time.monotonic()

    ids = await fetched_ids(client, fetch_body(topic("t"), asyncResponseTimeout=20_000))

    assert ids == [task_id]
    assert time.monotonic() - started < 1


async def test_a_long_poll_with_a_zero_timeout_answers_an_empty_list_at_once(client):
    started = time.monotonic()

    assert await fetch(client, fetch_body(topic("t"), asyncResponseTimeout=0)) == []
    assert time.monotonic() - started < 1


async def _parked(client, app, body) -> asyncio.Task:
    poll = asyncio.create_task(client.post(FETCH, json=body))
    for _ in range(100):
        if app.state.hub.parked:
            break
        await asyncio.sleep(0.01)
    assert app.state.hub.parked == 1
    return poll


async def test_a_task_published_while_a_poll_is_parked_is_delivered_to_it_within_a_second(
    client, app, publish
):
    poll = await _parked(client, app, fetch_body(topic("t"), asyncResponseTimeout=20_000))
    published = time.monotonic()

    task_id = await publish("t")
    response = await asyncio.wait_for(poll, 5)

    assert time.monotonic() - published < 1
    assert response.status_code == 200
    assert [t["id"] for t in response.json()] == [task_id]
    assert response.json()[0]["workerId"] == "w"
    assert app.state.hub.parked == 0


async def test_a_task_published_through_the_extension_api_wakes_a_parked_poll(client, app):
    poll = await _parked(client, app, fetch_body(topic("t"), asyncResponseTimeout=20_000))

    created = await client.post("/redtask/topics/t/tasks", json={})
    response = await asyncio.wait_for(poll, 1)

    assert [t["id"] for t in response.json()] == created.json()["ids"]


async def test_unlocking_a_task_wakes_a_parked_poll(client, app, publish):
    task_id = await publish("t")
    await fetch(client, fetch_body(topic("t")))
    poll = await _parked(
        client, app, fetch_body(topic("t"), worker="w2", asyncResponseTimeout=20_000)
    )

    assert (await client.post(f"{ET}/{task_id}/unlock")).status_code == 204
    response = await asyncio.wait_for(poll, 1)

    assert [(t["id"], t["workerId"]) for t in response.json()] == [(task_id, "w2")]


async def test_a_task_on_another_topic_does_not_end_a_parked_poll(client, app, publish, store):
    poll = await _parked(client, app, fetch_body(topic("t"), asyncResponseTimeout=600))

    await publish("other")
    response = await asyncio.wait_for(poll, 5)

    assert response.json() == []
    assert await store.count(TaskQuery(locked=True)) == 0


async def test_a_long_poll_still_validates_its_request_first(client):
    body = fetch_body(topic("t", 0), asyncResponseTimeout=20_000)
    started = time.monotonic()

    response = await client.post(FETCH, json=body)

    assert response.status_code == 400
    assert response.json()["message"] == "lockTime is not greater than 0"
    assert time.monotonic() - started < 1
