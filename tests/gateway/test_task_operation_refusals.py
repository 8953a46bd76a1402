"""complete, failure, bpmnError, lock, extendLock, unlock refused: an unknown task (404), another
worker's lock, an expired lock (the last holder may still finish, until another worker locks
the task), and a missing workerId."""

from __future__ import annotations

import pytest

from tests.conftest import START_MS
from tests.gateway.helpers import ET, error, fetch_body, topic
from tests.gateway.operation_helpers import (
    FETCH,
    MISMATCH,
    MISSING,
    VALID,
    WORKER_OPS,
    as_worker,
    assert_no_content,
    fetch_ids,
    get,
    lock_for,
)

# ------------------------------------------------------------------ task not found


@pytest.mark.parametrize("op", ["complete", "failure", "bpmnError", "lock", "extendLock", "unlock"])
async def test_an_unknown_task_is_404_rest_exception_with_code_0(client, op):
    response = await client.post(f"{ET}/{MISSING}/{op}", json=VALID[op])

    assert response.status_code == 404
    assert response.json() == error(
        "RestException", f"External task with id {MISSING} does not exist", 0
    )


async def test_a_completed_task_is_not_found_afterwards(client, publish):
    task_id = await publish("t")
    await lock_for(client)
    await client.post(f"{ET}/{task_id}/complete", json={"workerId": "w"})

    for op in ["complete", "failure", "bpmnError", "extendLock", "lock", "unlock"]:
        response = await client.post(f"{ET}/{task_id}/{op}", json=VALID[op])
        assert response.status_code == 404, op


# ------------------------------------------------------------------ worker mismatch


@pytest.mark.parametrize("op", WORKER_OPS)
async def test_another_workers_valid_lock_is_a_400_rest_exception_with_the_operations_message(
    client, publish, op
):
    task_id = await publish("t")
    await lock_for(client, worker="holder")

    response = await client.post(f"{ET}/{task_id}/{op}", json=as_worker(op, "intruder"))

    assert response.status_code == 400
    message = MISMATCH[op].format(id=task_id, w="intruder", cur="holder")
    assert response.json() == error("RestException", message, 0)
    assert (await get(client, task_id))["workerId"] == "holder"


@pytest.mark.parametrize("op", ["complete", "failure", "bpmnError", "extendLock"])
async def test_a_task_nobody_locked_names_the_current_worker_literally_null(client, publish, op):
    task_id = await publish("t")

    response = await client.post(f"{ET}/{task_id}/{op}", json=VALID[op])

    assert response.status_code == 400
    message = MISMATCH[op].format(id=task_id, w="w", cur="null")
    assert response.json() == error("RestException", message, 0)


@pytest.mark.parametrize("op", ["complete", "failure", "bpmnError", "extendLock"])
async def test_an_unlocked_task_names_the_current_worker_literally_null(client, publish, op):
    task_id = await publish("t")
    await lock_for(client)
    await client.post(f"{ET}/{task_id}/unlock")

    response = await client.post(f"{ET}/{task_id}/{op}", json=VALID[op])

    assert response.status_code == 400
    assert response.json() == error(
        "RestException", MISMATCH[op].format(id=task_id, w="w", cur="null"), 0
    )


async def test_lock_is_allowed_for_the_same_worker_again(client, publish, clock):
    task_id = await publish("t")
    await lock_for(client, worker="w", lock=1000)
    clock.advance(100)

    assert_no_content(await client.post(f"{ET}/{task_id}/lock", json=VALID["lock"]))
    assert (await get(client, task_id))["lockExpirationTime"] == "2023-11-14T22:13:25.100+0000"


async def test_lock_is_refused_until_the_other_workers_lock_has_expired(client, publish, clock):
    task_id = await publish("t")
    await lock_for(client, worker="holder", lock=1000)
    body = as_worker("lock", "other")

    clock.advance(1000)  # now == lockExpirationTime: still held
    refused = await client.post(f"{ET}/{task_id}/lock", json=body)
    clock.advance(1)
    allowed = await client.post(f"{ET}/{task_id}/lock", json=body)

    assert refused.status_code == 400
    assert refused.json()["message"] == MISMATCH["lock"].format(id=task_id, w="other", cur="holder")
    assert_no_content(allowed)
    assert (await get(client, task_id))["workerId"] == "other"


async def test_lock_ignores_retries_and_locks_a_task_with_an_incident(client, publish, clock):
    task_id = await publish("t")
    await lock_for(client)
    await client.post(f"{ET}/{task_id}/failure", json={"workerId": "w", "retries": 0})
    clock.advance(1)  # the failure left w's lock expiring now

    assert_no_content(await client.post(f"{ET}/{task_id}/lock", json=as_worker("lock", "w2")))
    assert (await get(client, task_id))["workerId"] == "w2"


# ------------------------------------------------------------------ lock expired


async def test_extend_lock_of_an_expired_lock_is_refused_with_the_current_time(
    client, publish, clock
):
    task_id = await publish("t")
    await lock_for(client, lock=1000)
    clock.advance(1000)  # expires now: may still be extended
    assert_no_content(await client.post(f"{ET}/{task_id}/extendLock", json=VALID["extendLock"]))
    clock.advance(5001)

    response = await client.post(f"{ET}/{task_id}/extendLock", json=VALID["extendLock"])

    assert response.status_code == 400
    assert response.json() == error(
        "RestException",
        "Cannot extend a lock that expired: lockExpirationTime is not greater than or equal "
        f"to {START_MS + 6001}",
        0,
    )


@pytest.mark.parametrize("op", ["complete", "failure", "bpmnError"])
async def test_the_last_holder_may_finish_after_its_lock_expired(client, publish, clock, op):
    task_id = await publish("t")
    await lock_for(client, lock=1000)
    clock.advance(60_000)

    assert_no_content(await client.post(f"{ET}/{task_id}/{op}", json=VALID[op]))


async def test_the_last_holder_may_complete_an_expired_task_that_another_fetch_passed_over(
    client, publish, clock
):
    task_id = await publish("t")
    await lock_for(client, lock=1000)
    clock.advance(5000)
    passing_over = fetch_body(topic("t", businessKey="someone-else"), worker="w2")
    assert (await client.post(FETCH, json=passing_over)).json() == []

    assert_no_content(await client.post(f"{ET}/{task_id}/complete", json={"workerId": "w"}))


async def test_after_another_worker_locked_the_expired_task_the_old_holder_may_not_complete(
    client, publish, clock
):
    task_id = await publish("t")
    await lock_for(client, worker="old", lock=1000)
    clock.advance(1001)
    assert await fetch_ids(client, worker="new") == [task_id]

    late = await client.post(f"{ET}/{task_id}/complete", json={"workerId": "old"})
    on_time = await client.post(f"{ET}/{task_id}/complete", json={"workerId": "new"})

    assert late.status_code == 400
    assert late.json() == error(
        "RestException", MISMATCH["complete"].format(id=task_id, w="old", cur="new"), 0
    )
    assert_no_content(on_time)


# ------------------------------------------------------------------ workerId missing


@pytest.mark.parametrize("op", WORKER_OPS)
async def test_a_missing_worker_id_is_400_null_value_exception(client, publish, op):
    task_id = await publish("t")
    await lock_for(client)

    response = await client.post(f"{ET}/{task_id}/{op}", json=as_worker(op, None))

    assert response.status_code == 400  # Camunda: 500; redtask keeps type and message
    assert response.json() == error("NullValueException", "workerId is null", 0)


@pytest.mark.parametrize("op", WORKER_OPS)
async def test_a_missing_worker_id_is_reported_before_an_unknown_task(client, op):
    response = await client.post(f"{ET}/{MISSING}/{op}", json=as_worker(op, None))

    assert (response.status_code, response.json()["type"]) == (400, "NullValueException")


@pytest.mark.parametrize("op", WORKER_OPS)
async def test_a_null_worker_id_is_the_same_as_a_missing_one(client, publish, op):
    task_id = await publish("t")
    body = {**as_worker(op, None), "workerId": None}

    response = await client.post(f"{ET}/{task_id}/{op}", json=body)

    assert response.json() == error("NullValueException", "workerId is null", 0)
