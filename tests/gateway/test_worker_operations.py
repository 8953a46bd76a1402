"""complete, failure, bpmnError, lock, extendLock, unlock (reference §2.3-§2.8): success and
every row of the §2.17 error matrix, the late-complete rule, retries and retry timeouts."""

from __future__ import annotations

import httpx
import pytest

from redtask.broker.query import TaskQuery
from tests.conftest import START_MS
from tests.gateway.helpers import ET, error, fetch_body, topic

FETCH = f"{ET}/fetchAndLock"
MISSING = "no-such-task"


async def lock_for(client: httpx.AsyncClient, worker: str = "w", lock: int = 10_000) -> str:
    response = await client.post(FETCH, json=fetch_body(topic("t", lock), worker=worker))
    [task] = response.json()
    return str(task["id"])


async def fetch_ids(client: httpx.AsyncClient, worker: str = "w2") -> list[str]:
    response = await client.post(FETCH, json=fetch_body(topic("t"), worker=worker))
    assert response.status_code == 200
    return [t["id"] for t in response.json()]


async def get(client: httpx.AsyncClient, task_id: str) -> dict:
    response = await client.get(f"{ET}/{task_id}")
    assert response.status_code == 200
    task: dict = response.json()
    return task


def assert_no_content(response: httpx.Response) -> None:
    assert response.status_code == 204
    assert response.content == b""


# The body each operation needs to succeed for worker "w" (unlock has none).
VALID = {
    "complete": {"workerId": "w"},
    "failure": {"workerId": "w", "errorMessage": "boom", "retries": 1, "retryTimeout": 0},
    "bpmnError": {"workerId": "w", "errorCode": "E1"},
    "lock": {"workerId": "w", "lockDuration": 5000},
    "extendLock": {"workerId": "w", "newDuration": 5000},
    "unlock": None,
}
WORKER_OPS = ["complete", "failure", "bpmnError", "lock", "extendLock"]
MISMATCH = {
    "complete": "External Task {id} cannot be completed by worker '{w}'. "
    "It is locked by worker '{cur}'.",
    "failure": "Failure of External Task {id} cannot be reported by worker '{w}'. "
    "It is locked by worker '{cur}'.",
    "bpmnError": "Bpmn error of External Task {id} cannot be reported by worker '{w}'. "
    "It is locked by worker '{cur}'.",
    "extendLock": "The lock of the External Task {id} cannot be extended by worker '{w}''. "
    "It is locked by worker '{cur}'.",
    "lock": "External Task {id} cannot be locked by worker '{w}'. It is locked by worker '{cur}'.",
}


def as_worker(op: str, worker: str | None) -> dict:
    body = dict(VALID[op] or {})
    if worker is None:
        body.pop("workerId")
    else:
        body["workerId"] = worker
    return body


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


# ------------------------------------------------------------------ failure arguments


async def test_negative_retries_in_a_failure_is_a_process_engine_exception(client, publish):
    task_id = await publish("t")
    await lock_for(client)

    response = await client.post(f"{ET}/{task_id}/failure", json={"workerId": "w", "retries": -1})

    assert response.status_code == 400  # Camunda: 500
    assert response.json() == error(
        "ProcessEngineException", "retries is not greater than or equal to 0", 0
    )
    assert (await get(client, task_id))["retries"] is None


async def test_a_negative_retry_timeout_is_a_process_engine_exception(client, publish):
    task_id = await publish("t")
    await lock_for(client)
    body = {"workerId": "w", "retries": 1, "retryTimeout": -1}

    response = await client.post(f"{ET}/{task_id}/failure", json=body)

    assert response.status_code == 400  # Camunda: 500
    assert response.json() == error(
        "ProcessEngineException", "retryDuration is not greater than or equal to 0", 0
    )


async def test_failure_arguments_are_checked_before_the_task_is_looked_up(client):
    response = await client.post(f"{ET}/{MISSING}/failure", json={"workerId": "w", "retries": -1})

    assert response.json()["message"] == "retries is not greater than or equal to 0"


# ------------------------------------------------------------------ bpmnError arguments


async def test_a_missing_error_code_is_a_null_value_exception(client, publish):
    task_id = await publish("t")
    await lock_for(client)

    response = await client.post(f"{ET}/{task_id}/bpmnError", json={"workerId": "w"})

    assert response.status_code == 400  # Camunda: 500
    assert response.json() == error("NullValueException", "errorCode is null", 0)
    assert (await get(client, task_id))["workerId"] == "w"


# ------------------------------------------------------------------ lock / extendLock durations


@pytest.mark.parametrize("duration", [0, -1, None])
async def test_a_lock_duration_not_greater_than_zero_or_missing_is_refused(
    client, publish, duration
):
    task_id = await publish("t")
    body = {"workerId": "w"} if duration is None else {"workerId": "w", "lockDuration": duration}

    response = await client.post(f"{ET}/{task_id}/lock", json=body)

    assert response.status_code == 400
    assert response.json() == error("RestException", "lockDuration is not greater than 0", 0)
    assert (await get(client, task_id))["workerId"] is None


@pytest.mark.parametrize("duration", [0, -1, None])
@pytest.mark.parametrize("known", [True, False], ids=["known", "unknown"])
async def test_a_new_duration_not_greater_than_zero_is_refused_first_even_for_an_unknown_id(
    client, publish, duration, known
):
    task_id = await publish("t") if known else MISSING
    body = {} if duration is None else {"newDuration": duration}  # no workerId either

    response = await client.post(f"{ET}/{task_id}/extendLock", json=body)

    assert response.status_code == 400
    assert response.json() == error("RestException", "lockTime is not greater than 0", 0)


# ------------------------------------------------------------------ typed variables


BAD_TYPE = {"v": {"type": "X", "value": 1}}
BAD_VALUE = {"v": {"type": "Integer", "value": "abc"}}
UNSUPPORTED = error("RestException", "Unsupported value type 'X'")
CANNOT_CONVERT = error(
    "InvalidRequestException",
    "Cannot convert value 'abc' of type 'Integer' to java type java.lang.Integer",
)


@pytest.mark.parametrize(
    ("op", "field"),
    [
        ("complete", "variables"),
        ("complete", "localVariables"),
        ("failure", "variables"),
        ("failure", "localVariables"),
        ("bpmnError", "variables"),
    ],
)
@pytest.mark.parametrize(
    ("variables", "expected"),
    [(BAD_TYPE, UNSUPPORTED), (BAD_VALUE, CANNOT_CONVERT)],
    ids=["unsupported-type", "cannot-convert"],
)
async def test_a_bad_typed_variable_is_a_400(client, publish, op, field, variables, expected):
    task_id = await publish("t")
    await lock_for(client)

    response = await client.post(f"{ET}/{task_id}/{op}", json={**VALID[op], field: variables})

    assert response.status_code == 400
    body = response.json()
    assert (body["type"], body["message"]) == (expected["type"], expected["message"])
    assert (await get(client, task_id))["workerId"] == "w"


@pytest.mark.parametrize("op", ["complete", "failure", "bpmnError"])
async def test_variables_are_converted_before_the_worker_id_is_checked(client, publish, op):
    task_id = await publish("t")
    await lock_for(client)
    body = {**as_worker(op, None), "variables": BAD_TYPE}

    response = await client.post(f"{ET}/{task_id}/{op}", json=body)

    assert response.status_code == 400
    assert (response.json()["type"], response.json()["message"]) == (
        "RestException",
        "Unsupported value type 'X'",
    )


async def test_variables_of_a_bpmn_error_are_converted_before_the_error_code_is_checked(
    client, publish
):
    task_id = await publish("t")
    await lock_for(client)

    response = await client.post(
        f"{ET}/{task_id}/bpmnError", json={"workerId": "w", "variables": BAD_TYPE}
    )

    assert (response.status_code, response.json()["message"]) == (
        400,
        "Unsupported value type 'X'",
    )


async def test_only_the_first_letter_of_a_type_name_is_case_insensitive(client, publish):
    task_id = await publish("t")
    await lock_for(client)
    upper = {"workerId": "w", "variables": {"v": {"type": "STRING", "value": "x"}}}
    lower = {"workerId": "w", "variables": {"v": {"type": "string", "value": "x"}}}

    refused = await client.post(f"{ET}/{task_id}/complete", json=upper)
    accepted = await client.post(f"{ET}/{task_id}/complete", json=lower)

    assert refused.json() == error("RestException", "Unsupported value type 'STRING'")
    assert_no_content(accepted)


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
