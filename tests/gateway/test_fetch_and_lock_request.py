"""POST /external-task/fetchAndLock, the request (FetchExternalTasksDto): workerId and maxTasks
with the limits redtask adds, priority and createTime ordering, and how the body is parsed
(unknown fields, malformed JSON, wrong types, the body size limit)."""

from __future__ import annotations

import pytest

from redtask.broker.model import NewTask
from redtask.broker.query import TaskQuery
from tests.gateway.fetch_helpers import FETCH, fetch, fetched_ids
from tests.gateway.helpers import error, fetch_body, serve, topic

# ------------------------------------------------------------------ workerId and maxTasks


async def test_a_missing_worker_id_is_a_null_value_exception(client, publish):
    await publish("t")
    body = fetch_body(topic("t"))
    del body["workerId"]

    response = await client.post(FETCH, json=body)

    assert response.status_code == 400  # Camunda: 500; redtask keeps type and message
    assert response.json() == error("NullValueException", "workerId is null", 0)


async def test_max_tasks_limits_the_number_of_locked_tasks(client, publish):
    for _ in range(5):
        await publish("t")

    assert len(await fetch(client, fetch_body(topic("t"), max_tasks=2))) == 2
    assert len(await fetch(client, fetch_body(topic("t"), max_tasks=10))) == 3


async def test_max_tasks_given_as_a_numeric_string_is_coerced(client, publish):
    for _ in range(6):
        await publish("t")

    assert len(await fetch(client, fetch_body(topic("t"), max_tasks="5"))) == 5


async def test_max_tasks_zero_or_missing_locks_nothing(client, publish, store):
    await publish("t")
    body = fetch_body(topic("t"))
    del body["maxTasks"]

    assert await fetch(client, fetch_body(topic("t"), max_tasks=0)) == []
    assert await fetch(client, body) == []
    assert await store.count(TaskQuery(locked=True)) == 0


async def test_negative_max_tasks_is_refused(client):
    response = await client.post(FETCH, json=fetch_body(topic("t"), max_tasks=-1))

    assert response.status_code == 400  # Camunda: 500
    assert response.json() == error(
        "ProcessEngineException", "maxResults is not greater than or equal to 0", 0
    )


async def test_max_tasks_up_to_the_configured_limit_is_accepted_and_above_it_refused(
    client, publish, settings
):
    await publish("t")
    limit = settings.gateway_max_tasks

    assert len(await fetch(client, fetch_body(topic("t"), max_tasks=limit))) == 1
    response = await client.post(FETCH, json=fetch_body(topic("t"), max_tasks=limit + 1))

    assert response.status_code == 400
    assert response.json() == error(
        "InvalidRequestException",
        f"maxTasks must not be greater than {limit} (REDTASK_GATEWAY_MAX_TASKS)",
    )


async def test_a_lower_configured_max_tasks_limit_applies(settings, store):
    async with serve(settings.model_copy(update={"gateway_max_tasks": 3}), store) as client:
        ok = await client.post(FETCH, json=fetch_body(topic("t"), max_tasks=3))
        refused = await client.post(FETCH, json=fetch_body(topic("t"), max_tasks=4))

    assert (ok.status_code, ok.json()) == (200, [])
    assert refused.status_code == 400
    assert refused.json()["message"] == (
        "maxTasks must not be greater than 3 (REDTASK_GATEWAY_MAX_TASKS)"
    )


# ------------------------------------------------------------------ ordering


async def _three_tasks_in_one_partition(publish, clock) -> tuple[str, str, str]:
    """old (priority 0), middle (priority 5), new (priority 5): created 1 s apart."""
    ids = []
    for priority in (0, 5, 5):
        ids.append(await publish("t", priority=priority, partition=0))
        clock.advance(1000)
    return ids[0], ids[1], ids[2]


async def test_use_priority_fetches_higher_priorities_first(client, publish, clock):
    old, middle, new = await _three_tasks_in_one_partition(publish, clock)

    ids = await fetched_ids(client, fetch_body(topic("t"), usePriority=True))

    assert ids == [middle, new, old]


async def test_use_priority_false_is_accepted(client, publish, clock):
    await _three_tasks_in_one_partition(publish, clock)

    assert len(await fetch(client, fetch_body(topic("t"), usePriority=False))) == 3


async def test_sorting_by_create_time_asc_ignores_priority_without_use_priority(
    client, publish, clock
):
    old, middle, new = await _three_tasks_in_one_partition(publish, clock)
    body = fetch_body(topic("t"), sorting=[{"sortBy": "createTime", "sortOrder": "asc"}])

    assert await fetched_ids(client, body) == [old, middle, new]


async def test_sorting_by_create_time_desc_returns_the_newest_first(client, publish, clock):
    old, middle, new = await _three_tasks_in_one_partition(publish, clock)
    body = fetch_body(topic("t"), sorting=[{"sortBy": "createTime", "sortOrder": "desc"}])

    assert await fetched_ids(client, body) == [new, middle, old]


async def test_create_time_sorting_applies_after_priority_with_use_priority(client, publish, clock):
    old, middle, new = await _three_tasks_in_one_partition(publish, clock)
    body = fetch_body(
        topic("t"), usePriority=True, sorting=[{"sortBy": "createTime", "sortOrder": "desc"}]
    )

    assert await fetched_ids(client, body) == [new, middle, old]


@pytest.mark.parametrize("sort_by", ["priority", "id", "", "CREATETIME"])
async def test_sorting_by_anything_but_create_time_is_refused(client, sort_by):
    body = fetch_body(topic("t"), sorting=[{"sortBy": sort_by, "sortOrder": "asc"}])

    response = await client.post(FETCH, json=body)

    assert response.status_code == 400
    assert response.json() == error(
        "InvalidRequestException", f"Cannot set query sortBy parameter to value {sort_by}"
    )


@pytest.mark.parametrize("sort_order", ["DESC", "ASC", "", " ", "descending"])
async def test_a_sort_order_other_than_lower_case_asc_or_desc_is_refused(client, sort_order):
    body = fetch_body(topic("t"), sorting=[{"sortBy": "createTime", "sortOrder": sort_order}])

    response = await client.post(FETCH, json=body)

    assert response.status_code == 400
    assert response.json() == error(
        "InvalidRequestException", f"Cannot set query sortOrder parameter to value {sort_order}"
    )


@pytest.mark.parametrize(
    "sorting", [{"sortBy": "createTime"}, {"sortBy": "createTime", "sortOrder": None}]
)
async def test_sort_by_without_a_sort_order_is_a_not_valid_exception(client, sorting):
    response = await client.post(FETCH, json=fetch_body(topic("t"), sorting=[sorting]))

    assert response.status_code == 400
    assert response.json() == error(
        "NotValidException",
        "Invalid query: call asc() or desc() after using orderByXX(): direction is null",
        0,
    )


async def test_sorting_is_checked_before_the_worker_id(client):
    body = {"maxTasks": 1, "sorting": [{"sortBy": "createTime", "sortOrder": "DESC"}]}

    response = await client.post(FETCH, json=body)

    assert response.json()["message"] == "Cannot set query sortOrder parameter to value DESC"


async def test_null_or_empty_sorting_is_no_sorting(client, publish):
    await publish("t")

    assert len(await fetch(client, fetch_body(topic("t"), sorting=None))) == 1
    await publish("t")
    assert len(await fetch(client, fetch_body(topic("t"), sorting=[]))) == 1


# ------------------------------------------------------------------ request parsing


async def test_unknown_fields_are_ignored_at_every_level(client, publish):
    task_id = await publish("t")
    body = fetch_body(topic("t", shoeSize=42), someFutureField={"x": 1})
    body["sorting"] = [{"sortBy": "createTime", "sortOrder": "asc", "nulls": "first"}]

    assert await fetched_ids(client, body) == [task_id]


@pytest.mark.parametrize(
    "raw",
    [b"{bad json", b'{"workerId": "w",}', b"", b"[1, 2", b'"just a string"', b"[]"],
    ids=["garbage", "trailing-comma", "empty", "unterminated", "string", "array"],
)
async def test_malformed_or_wrongly_shaped_json_is_an_invalid_request_with_an_empty_message(
    client, raw
):
    response = await client.post(FETCH, content=raw, headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"type": "InvalidRequestException", "message": "", "code": None}


@pytest.mark.parametrize(
    "body",
    [
        {"workerId": "w", "maxTasks": "five"},
        {"workerId": "w", "maxTasks": 1, "topics": "t"},
        {"workerId": "w", "maxTasks": 1, "topics": [{"topicName": "t", "lockDuration": "x"}]},
        {"workerId": "w", "maxTasks": 1, "usePriority": "sometimes"},
        {"workerId": "w", "maxTasks": 1, "asyncResponseTimeout": "soon"},
    ],
)
async def test_a_field_of_the_wrong_type_is_an_invalid_request_with_an_empty_message(client, body):
    response = await client.post(FETCH, json=body)

    assert response.status_code == 400
    assert response.json() == {"type": "InvalidRequestException", "message": "", "code": None}


BODY_LIMIT_MESSAGE = (
    "The request body exceeds the limit of 1024 bytes (REDTASK_GATEWAY_MAX_BODY_BYTES)"
)


async def test_a_body_over_the_configured_limit_is_refused(settings, store):
    await store.publish(NewTask("t"))
    body = fetch_body(topic("t"), padding="x" * 1100)

    async with serve(settings.model_copy(update={"gateway_max_body_bytes": 1024}), store) as c:
        response = await c.post(FETCH, json=body)
        small = await c.post(FETCH, json=fetch_body(topic("t")))

    assert response.status_code == 400
    assert response.json() == error("InvalidRequestException", BODY_LIMIT_MESSAGE)
    assert small.status_code == 200 and len(small.json()) == 1


async def test_a_chunked_body_over_the_limit_without_content_length_is_refused(settings, store):
    async def chunks():
        yield b'{"workerId": "w", "maxTasks": 1, "padding": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}'

    async with serve(settings.model_copy(update={"gateway_max_body_bytes": 1024}), store) as c:
        response = await c.post(FETCH, content=chunks())

    assert "content-length" not in response.request.headers
    assert response.status_code == 400
    assert response.json() == error("InvalidRequestException", BODY_LIMIT_MESSAGE)
