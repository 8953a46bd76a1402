"""complete, failure, bpmnError, lock, extendLock, unlock that succeed (ExternalTaskResourceImpl):
what each answers and changes, and how a failure's retries, retry timeout, variables and error
message decide the task's next fetch."""

from __future__ import annotations

import pytest

from redtask.broker.query import TaskQuery
from tests.gateway.helpers import ET, fetch_body, topic
from tests.gateway.operation_helpers import (
    FETCH,
    VALID,
    assert_no_content,
    fetch_ids,
    get,
    lock_for,
)

# ------------------------------------------------------------------ success


async def test_complete_answers_204_and_removes_the_task(client, publish):
    task_id = await publish("t")
    await lock_for(client)
    body = {"workerId": "w", "variables": {"r": {"type": "String", "value": "ok"}}}

    assert_no_content(await client.post(f"{ET}/{task_id}/complete", json=body))
    assert (await client.get(f"{ET}/{task_id}")).status_code == 404


async def test_complete_accepts_untyped_and_local_variables(client, publish, store):
    task_id = await publish("t")
    await lock_for(client)
    body = {
        "workerId": "w",
        "variables": {"n": {"value": 42}, "flag": {"value": True}},
        "localVariables": {"l": {"type": "Long", "value": "7"}},
    }

    assert_no_content(await client.post(f"{ET}/{task_id}/complete", json=body))
    assert await store.count(TaskQuery()) == 0


async def test_failure_answers_204_and_records_the_error(client, publish, clock):
    task_id = await publish("t")
    await lock_for(client)
    clock.advance(1000)
    body = {
        "workerId": "w",
        "errorMessage": "Does not compute",
        "errorDetails": "stack trace",
        "retries": 3,
        "retryTimeout": 60_000,
    }

    assert_no_content(await client.post(f"{ET}/{task_id}/failure", json=body))
    task = await get(client, task_id)
    assert (task["errorMessage"], task["retries"], task["workerId"]) == ("Does not compute", 3, "w")
    assert task["lockExpirationTime"] == "2023-11-14T22:14:21.000+0000"
    details = await client.get(f"{ET}/{task_id}/errorDetails")
    assert (details.status_code, details.text) == (200, "stack trace")


async def test_bpmn_error_answers_204_and_ends_the_task(client, publish):
    task_id = await publish("t")
    await lock_for(client)
    body = {
        "workerId": "w",
        "errorCode": "bpmn-error",
        "errorMessage": "anErrorMessage",
        "variables": {"aVariable": {"value": "aStringValue", "type": "String"}},
    }

    assert_no_content(await client.post(f"{ET}/{task_id}/bpmnError", json=body))
    assert (await client.get(f"{ET}/{task_id}")).status_code == 404


async def test_lock_answers_204_and_locks_without_fetching(client, publish, clock):
    task_id = await publish("t")
    clock.advance(500)

    assert_no_content(await client.post(f"{ET}/{task_id}/lock", json=VALID["lock"]))
    task = await get(client, task_id)
    assert (task["workerId"], task["lockExpirationTime"]) == ("w", "2023-11-14T22:13:25.500+0000")
    assert await fetch_ids(client) == []


async def test_lock_accepts_a_numeric_string_lock_duration(client, publish):
    task_id = await publish("t")

    response = await client.post(
        f"{ET}/{task_id}/lock", json={"workerId": "w", "lockDuration": "1000"}
    )

    assert_no_content(response)
    assert (await get(client, task_id))["lockExpirationTime"] == "2023-11-14T22:13:21.000+0000"


async def test_extend_lock_sets_the_expiry_to_now_plus_the_new_duration(client, publish, clock):
    task_id = await publish("t")
    await lock_for(client, lock=10_000)
    clock.advance(4000)

    response = await client.post(f"{ET}/{task_id}/extendLock", json=VALID["extendLock"])

    assert_no_content(response)
    assert (await get(client, task_id))["lockExpirationTime"] == "2023-11-14T22:13:29.000+0000"


async def test_unlock_answers_204_clears_the_lock_and_makes_the_task_fetchable(client, publish):
    task_id = await publish("t")
    await lock_for(client)

    assert_no_content(await client.post(f"{ET}/{task_id}/unlock"))
    task = await get(client, task_id)
    assert (task["workerId"], task["lockExpirationTime"]) == (None, None)
    assert await fetch_ids(client) == [task_id]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"json": {"workerId": "anyone"}},
        {"content": b"x", "headers": {"content-type": "text/plain"}},
    ],
    ids=["no-body", "json-body", "text-body"],
)
async def test_unlock_takes_any_or_no_body_and_checks_no_worker(client, publish, kwargs):
    task_id = await publish("t")
    await lock_for(client)

    assert_no_content(await client.post(f"{ET}/{task_id}/unlock", **kwargs))


async def test_unlock_of_a_task_that_is_not_locked_is_fine(client, publish):
    task_id = await publish("t")

    assert_no_content(await client.post(f"{ET}/{task_id}/unlock"))


# ------------------------------------------------------------------ retries and retry timeouts


async def test_a_failure_with_a_retry_timeout_is_fetchable_only_after_the_timeout(
    client, publish, clock
):
    task_id = await publish("t")
    await lock_for(client)
    body = {"workerId": "w", "errorMessage": "try later", "retries": 2, "retryTimeout": 5000}
    assert_no_content(await client.post(f"{ET}/{task_id}/failure", json=body))

    assert await fetch_ids(client) == []
    clock.advance(4999)
    assert await fetch_ids(client) == []
    clock.advance(1)
    assert await fetch_ids(client) == [task_id]
    task = await get(client, task_id)
    assert (task["retries"], task["errorMessage"], task["workerId"]) == (2, "try later", "w2")


async def test_a_failure_without_a_retry_timeout_is_fetchable_at_once(client, publish):
    task_id = await publish("t")
    await lock_for(client)

    await client.post(f"{ET}/{task_id}/failure", json={"workerId": "w", "retries": 1})

    assert await fetch_ids(client) == [task_id]


@pytest.mark.parametrize("body", [{"retries": 0}, {}], ids=["zero", "missing-means-zero"])
async def test_a_failure_with_no_retries_left_is_never_fetched_and_shows_retries_0(
    client, publish, clock, body
):
    task_id = await publish("t")
    await lock_for(client)

    response = await client.post(f"{ET}/{task_id}/failure", json={"workerId": "w", **body})

    assert_no_content(response)
    clock.advance(3_600_000)
    assert await fetch_ids(client) == []
    assert (await get(client, task_id))["retries"] == 0
    stats = (await client.get("/redtask/topics")).json()
    assert stats == [{"topicName": "t", "available": 0, "locked": 0, "retrying": 0, "incidents": 1}]


async def test_a_task_with_no_retries_left_can_still_be_completed_by_its_worker(client, publish):
    task_id = await publish("t")
    await lock_for(client)
    await client.post(f"{ET}/{task_id}/failure", json={"workerId": "w", "retries": 0})

    assert_no_content(await client.post(f"{ET}/{task_id}/complete", json={"workerId": "w"}))
    assert (await client.get("/redtask/topics")).json() == []


async def test_failure_variables_are_visible_on_the_next_fetch(client, publish):
    task_id = await publish("t", variables={"kept": {"type": "String", "value": "k"}})
    await lock_for(client)
    body = {
        "workerId": "w",
        "retries": 1,
        "variables": {"attempt": {"type": "Integer", "value": 1}},
        "localVariables": {"note": {"type": "String", "value": "local"}},
    }
    assert_no_content(await client.post(f"{ET}/{task_id}/failure", json=body))

    response = await client.post(FETCH, json=fetch_body(topic("t"), worker="w2"))

    [task] = response.json()
    assert task["variables"] == {
        "kept": {"type": "String", "value": "k", "valueInfo": {}},
        "attempt": {"type": "Integer", "value": 1, "valueInfo": {}},
        "note": {"type": "String", "value": "local", "valueInfo": {}},
    }


async def test_the_error_message_is_truncated_to_666_characters(client, publish):
    task_id = await publish("t")
    await lock_for(client)
    body = {"workerId": "w", "retries": 1, "errorMessage": "e" * 1000}

    await client.post(f"{ET}/{task_id}/failure", json=body)

    assert (await get(client, task_id))["errorMessage"] == "e" * 666


async def test_a_failure_without_error_details_keeps_the_previous_details(client, publish):
    task_id = await publish("t")
    await lock_for(client)
    first = {"workerId": "w", "retries": 2, "errorDetails": "first trace"}
    await client.post(f"{ET}/{task_id}/failure", json=first)
    await client.post(f"{ET}/{task_id}/failure", json={"workerId": "w", "retries": 1})

    details = await client.get(f"{ET}/{task_id}/errorDetails")

    assert (details.status_code, details.text) == (200, "first trace")


async def test_a_failure_with_retries_after_an_incident_resolves_it(client, publish):
    task_id = await publish("t")
    await lock_for(client)
    await client.post(f"{ET}/{task_id}/failure", json={"workerId": "w", "retries": 0})

    await client.post(f"{ET}/{task_id}/failure", json={"workerId": "w", "retries": 3})

    assert await fetch_ids(client) == [task_id]
    assert (await client.get(f"{ET}/{task_id}")).json()["retries"] == 3
