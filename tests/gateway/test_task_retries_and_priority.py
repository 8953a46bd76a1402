"""Changing tasks by id or in bulk: PUT /external-task/{id}/retries and /priority, PUT
/external-task/retries and POST /external-task/retries-async (SetRetriesForExternalTasksDto),
with their validation and their effect on incidents and fetching."""

from __future__ import annotations

import httpx
import pytest

from tests.gateway.helpers import ET, error, fetch_body, topic
from tests.gateway.query_helpers import FETCH, MISSING, get_ids, ids_of, retries_of

# ------------------------------------------------------------------ PUT /{id}/retries


async def stats(client: httpx.AsyncClient) -> dict[str, dict]:
    return {s["topicName"]: s for s in (await client.get("/redtask/topics")).json()}


async def fetchable(client: httpx.AsyncClient, name: str) -> list[str]:
    return await ids_of(await client.post(FETCH, json=fetch_body(topic(name), worker="fetcher")))


async def test_setting_retries_answers_204_and_keeps_the_lock(client, tasks):
    response = await client.put(f"{ET}/{tasks.a}/retries", json={"retries": 3})

    assert (response.status_code, response.content) == (204, b"")
    task = (await client.get(f"{ET}/{tasks.a}")).json()
    assert (task["retries"], task["workerId"]) == (3, "w1")
    assert task["lockExpirationTime"] == "2023-11-14T22:13:30.004+0000"


async def test_retries_given_as_a_numeric_string_are_coerced(client, tasks):
    await client.put(f"{ET}/{tasks.c}/retries", json={"retries": "5"})

    assert (await client.get(f"{ET}/{tasks.c}")).json()["retries"] == 5


@pytest.mark.parametrize("body", [{"retries": None}, {}, {"dueDate": None}])
async def test_null_retries_are_refused(client, tasks, body):
    response = await client.put(f"{ET}/{tasks.c}/retries", json=body)

    assert response.status_code == 400
    assert response.json() == error(
        "InvalidRequestException", "The number of retries cannot be null."
    )


@pytest.mark.parametrize("task", ["c", MISSING])
async def test_negative_retries_are_a_bad_user_request_checked_before_the_lookup(
    client, tasks, task
):
    task_id = getattr(tasks, task, task)

    response = await client.put(f"{ET}/{task_id}/retries", json={"retries": -1})

    assert response.status_code == 400
    assert response.json() == error(
        "BadUserRequestException",
        "The number of retries cannot be negative: retries is not greater than or equal to 0",
        0,
    )


async def test_retries_of_an_unknown_task_are_404(client):
    response = await client.put(f"{ET}/{MISSING}/retries", json={"retries": 1})

    assert response.status_code == 404
    assert response.json() == error(
        "RestException", f"External task with id {MISSING} does not exist", 0
    )


async def test_zero_retries_open_an_incident_and_stop_fetching(client, tasks):
    response = await client.put(f"{ET}/{tasks.c}/retries", json={"retries": 0})

    assert response.status_code == 204
    assert (await client.get(f"{ET}/{tasks.c}")).json()["retries"] == 0
    assert await fetchable(client, "a") == []
    assert (await stats(client))["a"]["incidents"] == 1
    assert await get_ids(client, noRetriesLeft="true") == {tasks.b, tasks.c}


async def test_retries_above_zero_resolve_the_incident_once_the_retry_timeout_passed(
    client, publish, store, clock
):
    task_id = await publish("r")
    await store.lock(task_id, "w", 1000)
    await store.handle_failure(task_id, "w", "boom", None, 0, 10_000)
    assert (await stats(client))["r"]["incidents"] == 1

    response = await client.put(f"{ET}/{task_id}/retries", json={"retries": 2})

    assert response.status_code == 204
    assert (await stats(client))["r"]["incidents"] == 0
    assert await fetchable(client, "r") == []  # the lock from the failure still holds
    clock.advance(10_000)
    assert await fetchable(client, "r") == [task_id]


# ------------------------------------------------------------------ PUT /{id}/priority


async def test_setting_the_priority_answers_204(client, tasks):
    response = await client.put(f"{ET}/{tasks.c}/priority", json={"priority": 42})
    coerced = await client.put(f"{ET}/{tasks.d}/priority", json={"priority": "7"})

    assert (response.status_code, response.content) == (204, b"")
    assert coerced.status_code == 204
    assert (await client.get(f"{ET}/{tasks.c}")).json()["priority"] == 42
    assert (await client.get(f"{ET}/{tasks.d}")).json()["priority"] == 7


async def test_the_priority_orders_fetching(client, publish):
    low = await publish("p", priority=0, partition=0)
    await publish("p", priority=1, partition=0)

    await client.put(f"{ET}/{low}/priority", json={"priority": 9})
    body = fetch_body(topic("p"), max_tasks=1, usePriority=True)

    assert await ids_of(await client.post(FETCH, json=body)) == [low]


async def test_the_priority_of_an_unknown_task_is_404(client):
    response = await client.put(f"{ET}/{MISSING}/priority", json={"priority": 1})

    assert response.status_code == 404
    assert response.json() == error(
        "RestException", f"External task with id {MISSING} does not exist", 0
    )


async def test_a_null_priority_is_a_400(client, tasks):
    response = await client.put(f"{ET}/{tasks.c}/priority", json={"priority": None})

    assert response.status_code == 400  # Camunda: NPE 500; a 400 is allowed
    assert response.json()["type"] == "InvalidRequestException"


# ------------------------------------------------------------------ PUT /external-task/retries


async def test_bulk_retries_by_ids(client, tasks):
    response = await client.put(
        f"{ET}/retries", json={"retries": 4, "externalTaskIds": [tasks.a, tasks.b]}
    )

    assert (response.status_code, response.content) == (204, b"")
    assert await retries_of(client, *tasks) == [4, 4, None, 2]
    assert (await stats(client)).get("b", {}).get("incidents", 0) == 0


async def test_bulk_retries_by_query_and_ids_target_the_union(client, tasks):
    body = {"retries": 0, "externalTaskIds": [tasks.d], "externalTaskQuery": {"topicName": "a"}}

    response = await client.put(f"{ET}/retries", json=body)

    assert response.status_code == 204
    assert await retries_of(client, *tasks) == [0, 0, 0, 0]
    assert sum(s["incidents"] for s in (await stats(client)).values()) == 4


async def test_bulk_retries_by_process_instance_ids_naming_no_instance_select_nothing(
    client, tasks
):
    body = {"retries": 1, "processInstanceIds": ["p1"]}

    response = await client.put(f"{ET}/retries", json=body)

    assert response.status_code == 400
    assert response.json() == error("InvalidRequestException", "externalTaskIds is empty")


@pytest.mark.process_only("a standalone task belongs to no process instance")
async def test_bulk_retries_by_process_instance_ids_select_the_tasks_of_those_instances(
    client, tasks, publish
):
    instances = [publish.process_fields(t)["processInstanceId"] for t in (tasks.b, tasks.c)]

    response = await client.put(
        f"{ET}/retries", json={"retries": 6, "processInstanceIds": instances}
    )

    assert (response.status_code, response.content) == (204, b"")
    assert await retries_of(client, *tasks) == [None, 6, 6, 2]
    assert (await stats(client)).get("b", {}).get("incidents", 0) == 0


@pytest.mark.parametrize(
    "body",
    [{"externalTaskIds": ["x"]}, {"retries": None, "externalTaskIds": []}],
    ids=["missing", "null"],
)
async def test_bulk_retries_must_not_be_null(client, body):
    response = await client.put(f"{ET}/retries", json=body)

    assert response.status_code == 400
    assert response.json() == error(
        "InvalidRequestException", "The number of retries cannot be null."
    )


@pytest.mark.parametrize(
    "body",
    [
        {"retries": 1},
        {"retries": 1, "externalTaskIds": []},
        {"retries": 1, "externalTaskQuery": {"topicName": "nothing-here"}},
    ],
    ids=["no-selection", "empty-ids", "empty-query"],
)
async def test_an_empty_bulk_selection_is_refused(client, tasks, body):
    response = await client.put(f"{ET}/retries", json=body)

    assert response.status_code == 400
    assert response.json() == error("InvalidRequestException", "externalTaskIds is empty")


async def test_a_null_id_in_the_bulk_selection_is_refused(client, tasks):
    body = {"retries": 1, "externalTaskIds": [tasks.a, None]}

    response = await client.put(f"{ET}/retries", json=body)

    assert response.status_code == 400
    assert response.json() == error(
        "InvalidRequestException",
        "External task id cannot be null: externalTaskIds contains null value",
    )


async def test_an_unknown_id_in_the_bulk_selection_is_404_and_changes_nothing(client, tasks):
    body = {"retries": 7, "externalTaskIds": [tasks.a, MISSING]}

    response = await client.put(f"{ET}/retries", json=body)

    assert response.status_code == 404
    assert response.json() == error(
        "InvalidRequestException",
        f"Cannot find external task with id {MISSING}: externalTask is null",
    )
    assert await retries_of(client, tasks.a) == [None]


async def test_negative_bulk_retries_are_refused_with_the_engine_message(client, tasks):
    response = await client.put(f"{ET}/retries", json={"retries": -1, "externalTaskIds": [tasks.a]})

    assert response.status_code == 400
    assert response.json() == error(
        "InvalidRequestException",
        "The number of retries cannot be negative: retries is not greater than or equal to 0",
    )


# ------------------------------------------------------------ POST /external-task/retries-async


BATCH_KEYS = {
    "id",
    "type",
    "totalJobs",
    "jobsCreated",
    "batchJobsPerSeed",
    "invocationsPerBatchJob",
    "seedJobDefinitionId",
    "monitorJobDefinitionId",
    "batchJobDefinitionId",
    "suspended",
    "tenantId",
    "createUserId",
    "startTime",
    "executionStartTime",
}


async def test_async_retries_answer_a_batch_and_apply_the_retries(client, tasks):
    body = {"retries": "5", "externalTaskIds": [tasks.a], "externalTaskQuery": {"topicName": "b"}}

    response = await client.post(f"{ET}/retries-async", json=body)

    assert response.status_code == 200
    batch = response.json()
    assert set(batch) == BATCH_KEYS
    assert batch["type"] == "set-external-task-retries"
    assert (batch["suspended"], batch["tenantId"], batch["createUserId"]) == (False, None, None)
    assert batch["totalJobs"] == 2
    assert isinstance(batch["id"], str) and batch["id"]
    assert batch["startTime"] == "2023-11-14T22:13:20.005+0000"
    assert await retries_of(client, *tasks) == [5, 5, None, 2]


async def test_async_retries_validate_like_the_sync_ones(client, tasks):
    null = await client.post(f"{ET}/retries-async", json={"externalTaskIds": [tasks.a]})
    empty = await client.post(f"{ET}/retries-async", json={"retries": 1})

    assert null.json() == error("InvalidRequestException", "The number of retries cannot be null.")
    assert empty.json() == error("InvalidRequestException", "externalTaskIds is empty")
    assert null.status_code == empty.status_code == 400
