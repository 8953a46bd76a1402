"""The arguments of the worker operations (ExternalTaskFailureDto, ExternalTaskBpmnError,
LockExternalTaskDto, ExtendLockOnExternalTaskDto): retries and retry timeouts, error codes,
lock durations and typed variables, and which check comes first."""

from __future__ import annotations

import pytest

from tests.gateway.helpers import ET, error
from tests.gateway.operation_helpers import (
    MISSING,
    VALID,
    as_worker,
    assert_no_content,
    get,
    lock_for,
)

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
