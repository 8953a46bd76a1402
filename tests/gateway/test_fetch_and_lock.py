"""POST /external-task/fetchAndLock (reference §2.2): every request field, validation, the
LockedExternalTaskDto shape, the limits redtask adds, and long polling in-process."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from redtask.broker.model import NewTask
from redtask.broker.query import TaskQuery
from tests.conftest import START_MS
from tests.gateway.helpers import (
    DATE,
    ET,
    START,
    error,
    fetch_body,
    serve,
    topic,
)

FETCH = f"{ET}/fetchAndLock"
LOCKED_KEYS = {
    "activityId",
    "activityInstanceId",
    "errorMessage",
    "errorDetails",
    "executionId",
    "id",
    "lockExpirationTime",
    "createTime",
    "processDefinitionId",
    "processDefinitionKey",
    "processDefinitionVersionTag",
    "processInstanceId",
    "retries",
    "suspended",
    "workerId",
    "topicName",
    "tenantId",
    "variables",
    "priority",
    "businessKey",
    "extensionProperties",
}
STRING_A = {"type": "String", "value": "x", "valueInfo": {}}
INTEGER_B = {"type": "Integer", "value": 2, "valueInfo": {}}


async def fetch(client: httpx.AsyncClient, body: dict) -> list[dict]:
    response = await client.post(FETCH, json=body)
    assert response.status_code == 200, response.text
    tasks: list[dict] = response.json()
    return tasks


async def fetched_ids(client: httpx.AsyncClient, body: dict) -> list[str]:
    return [t["id"] for t in await fetch(client, body)]


# ------------------------------------------------------------------ response shape


async def test_a_fetched_task_has_exactly_the_21_keys_of_locked_external_task_dto_nulls_included(
    client, publish, clock
):
    task_id = await publish("t", variables={"a": {"type": "String", "value": "x"}})
    clock.advance(1234)

    [task] = await fetch(client, fetch_body(topic("t", 10_000)))

    assert set(task) == LOCKED_KEYS
    assert task == {
        **publish.process_fields(task_id),  # all null for a standalone task
        "errorMessage": None,
        "errorDetails": None,
        "id": task_id,
        "lockExpirationTime": "2023-11-14T22:13:31.234+0000",
        "createTime": START,
        "retries": None,
        "suspended": False,
        "workerId": "w",
        "topicName": "t",
        "tenantId": None,
        "variables": {"a": STRING_A},
        "priority": 0,
        "businessKey": None,
        "extensionProperties": {},
    }


async def test_dates_use_camundas_format_and_the_lock_expires_lock_duration_after_the_fetch(
    client, publish, clock, store
):
    await publish("t")
    clock.advance(61_001)
    fetched_at = clock.now

    [task] = await fetch(client, fetch_body(topic("t", 300_000)))

    assert DATE.match(task["createTime"]) and DATE.match(task["lockExpirationTime"])
    assert task["createTime"] == START
    assert task["lockExpirationTime"] == "2023-11-14T22:19:21.001+0000"
    assert (await store.get(task["id"])).lock_expiration_time == fetched_at + 300_000
    assert (await store.get(task["id"])).create_time == START_MS


async def test_a_fetched_task_with_a_failure_carries_its_error_message_details_and_retries(
    client, publish, clock
):
    task_id = await publish("t")
    await fetch(client, fetch_body(topic("t")))
    failure = {"workerId": "w", "errorMessage": "boom", "errorDetails": "trace", "retries": 2}
    assert (await client.post(f"{ET}/{task_id}/failure", json=failure)).status_code == 204

    [task] = await fetch(client, fetch_body(topic("t"), worker="w2"))

    assert (task["errorMessage"], task["errorDetails"], task["retries"]) == ("boom", "trace", 2)
    assert task["workerId"] == "w2"
    assert task["suspended"] is False


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


# ------------------------------------------------------------------ topics


async def test_null_or_empty_topics_match_nothing(client, publish):
    await publish("t")

    assert await fetch(client, {"workerId": "w", "maxTasks": 5, "topics": None}) == []
    assert await fetch(client, {"workerId": "w", "maxTasks": 5, "topics": []}) == []
    assert await fetch(client, {"workerId": "w", "maxTasks": 5}) == []


async def test_only_tasks_of_the_requested_topics_are_fetched(client, publish):
    a = await publish("a")
    b = await publish("b")
    await publish("c")

    ids = await fetched_ids(client, fetch_body(topic("a"), topic("b")))

    assert sorted(ids) == sorted([a, b])


async def test_lock_duration_given_as_a_numeric_string_is_coerced(client, publish):
    await publish("t")

    [task] = await fetch(client, fetch_body(topic("t", "1000")))

    assert task["lockExpirationTime"] == "2023-11-14T22:13:21.000+0000"


@pytest.mark.parametrize("lock", [0, -5, None])
async def test_a_lock_duration_not_greater_than_zero_or_missing_is_refused(client, publish, lock):
    await publish("t")
    body = fetch_body({"topicName": "t"} if lock is None else topic("t", lock))

    response = await client.post(FETCH, json=body)

    assert response.status_code == 400  # Camunda: 500
    assert response.json() == error("ProcessEngineException", "lockTime is not greater than 0", 0)


async def test_a_topic_without_a_name_is_a_null_value_exception(client):
    response = await client.post(FETCH, json=fetch_body({"lockDuration": 1000}))

    assert response.status_code == 400  # Camunda: 500
    assert response.json() == error("NullValueException", "topicName is null", 0)


async def test_a_duplicate_topic_name_replaces_the_earlier_entry(client, publish):
    await publish("t", variables={"a": {"type": "String", "value": "x"}})
    first = topic("t", 1000, variables=["a"])
    second = topic("t", 5000, variables=[])

    [task] = await fetch(client, fetch_body(first, second))

    assert task["lockExpirationTime"] == "2023-11-14T22:13:25.000+0000"
    assert task["variables"] == {}


async def test_a_fetched_task_is_locked_and_not_fetched_again_until_its_lock_expires(
    client, publish, clock
):
    task_id = await publish("t")
    await fetch(client, fetch_body(topic("t", 1000)))

    assert await fetch(client, fetch_body(topic("t"), worker="w2")) == []
    clock.advance(999)
    assert await fetch(client, fetch_body(topic("t"), worker="w2")) == []
    clock.advance(1)
    assert await fetched_ids(client, fetch_body(topic("t"), worker="w2")) == [task_id]


# ------------------------------------------------------------------ variables


async def _task_with_two_variables(publish) -> str:
    return await publish(
        "t",
        variables={"a": {"type": "String", "value": "x"}, "b": {"type": "Integer", "value": 2}},
    )


async def test_variables_null_returns_every_variable(client, publish):
    await _task_with_two_variables(publish)

    [task] = await fetch(client, fetch_body(topic("t", variables=None)))

    assert task["variables"] == {"a": STRING_A, "b": INTEGER_B}


async def test_variables_lists_the_names_returned(client, publish):
    await _task_with_two_variables(publish)

    [task] = await fetch(client, fetch_body(topic("t", variables=["b", "missing"])))

    assert task["variables"] == {"b": INTEGER_B}


async def test_an_empty_variables_list_returns_no_variables(client, publish):
    await _task_with_two_variables(publish)

    [task] = await fetch(client, fetch_body(topic("t", variables=[])))

    assert task["variables"] == {}


@pytest.mark.standalone_only("a process task's variables are not its own: see the next test")
async def test_local_variables_returns_the_variables_of_a_standalone_task_its_own_scope(
    client, publish
):
    await _task_with_two_variables(publish)
    await _task_with_two_variables(publish)
    body = fetch_body(topic("t", localVariables=True), max_tasks=1)
    selected = fetch_body(topic("t", localVariables=True, variables=["a"]), max_tasks=1)

    [every] = await fetch(client, body)
    [only_a] = await fetch(client, selected)

    assert every["variables"] == {"a": STRING_A, "b": INTEGER_B}
    assert only_a["variables"] == {"a": STRING_A}


@pytest.mark.process_only("a standalone task is its own scope: see the previous test")
async def test_local_variables_returns_none_of_the_process_variables_of_a_process_task(
    client, publish
):
    await _task_with_two_variables(publish)

    [task] = await fetch(client, fetch_body(topic("t", localVariables=True)))

    assert task["variables"] == {}


@pytest.mark.parametrize("deserialize", [False, True])
async def test_object_variables_are_returned_serialized_whatever_deserialize_values_says(
    client, publish, deserialize
):
    info = {"objectTypeName": "java.util.HashMap", "serializationDataFormat": "application/json"}
    await publish("t", variables={"o": {"type": "Object", "value": '{"k":1}', "valueInfo": info}})

    [task] = await fetch(client, fetch_body(topic("t", deserializeValues=deserialize)))

    assert task["variables"] == {"o": {"type": "Object", "value": '{"k":1}', "valueInfo": info}}


@pytest.mark.parametrize("include", [False, True, None])
async def test_extension_properties_are_an_empty_object_for_a_task_without_any(
    client, publish, include
):
    await publish("t")
    body = fetch_body(topic("t", includeExtensionProperties=include))
    body["includeExtensionProperties"] = True  # top-level flag: accepted, ignored

    [task] = await fetch(client, body)

    assert task["extensionProperties"] == {}


# ------------------------------------------------------------------ topic filters


async def test_business_key_filters_by_equality(client, publish):
    wanted = await publish("t", business_key="order-1")
    await publish("t", business_key="order-2")
    await publish("t")

    [task] = await fetch(client, fetch_body(topic("t", businessKey="order-1")))

    assert (task["id"], task["businessKey"]) == (wanted, "order-1")


async def test_process_variables_match_plain_values_and_are_or_ed(client, publish):
    by_a = await publish("t", variables={"a": {"type": "String", "value": "x"}})
    by_b = await publish("t", variables={"b": {"type": "Integer", "value": 2}})
    await publish("t", variables={"a": {"type": "String", "value": "other"}})
    await publish("t")

    ids = await fetched_ids(client, fetch_body(topic("t", processVariables={"a": "x", "b": 2})))

    assert sorted(ids) == sorted([by_a, by_b])


async def test_process_variables_that_match_nothing_fetch_nothing(client, publish):
    await publish("t", variables={"a": {"type": "String", "value": "x"}})

    assert await fetch(client, fetch_body(topic("t", processVariables={"a": "y"}))) == []


async def test_tenant_id_in_selects_those_tenants(client, publish):
    one = await publish("t", tenant_id="one")
    two = await publish("t", tenant_id="two")
    await publish("t", tenant_id="three")
    await publish("t")

    ids = await fetched_ids(client, fetch_body(topic("t", tenantIdIn=["one", "two"])))

    assert sorted(ids) == sorted([one, two])


async def test_without_tenant_id_selects_tasks_without_a_tenant(client, publish):
    await publish("t", tenant_id="one")
    plain = await publish("t")

    [task] = await fetch(client, fetch_body(topic("t", withoutTenantId=True)))

    assert (task["id"], task["tenantId"]) == (plain, None)


async def test_tenant_id_in_wins_over_without_tenant_id(client, publish):
    one = await publish("t", tenant_id="one")
    await publish("t")

    ids = await fetched_ids(
        client, fetch_body(topic("t", withoutTenantId=True, tenantIdIn=["one"]))
    )

    assert ids == [one]


@pytest.mark.standalone_only("a process task has a definition: see the next test")
async def test_process_definition_filters_match_nothing_for_standalone_tasks(client, publish):
    await publish("t")

    for field, value in [
        ("processDefinitionId", "pd"),
        ("processDefinitionIdIn", ["pd"]),
        ("processDefinitionKey", "pk"),
        ("processDefinitionKeyIn", ["pk"]),
        ("processDefinitionVersionTag", "%"),
    ]:
        assert await fetch(client, fetch_body(topic("t", **{field: value}))) == [], field


@pytest.mark.process_only("a standalone task has no definition: see the previous test")
async def test_process_definition_filters_select_the_process_tasks_of_matching_definitions(
    client, publish
):
    task_id = await publish("t")
    other = await publish("t", priority=1)  # a second process definition
    definition_id = publish.process_fields(task_id)["processDefinitionId"]
    key = publish.process_fields(task_id)["processDefinitionKey"]

    for field, value, expected in [
        ("processDefinitionId", definition_id, [task_id]),
        ("processDefinitionId", "pd", []),
        ("processDefinitionIdIn", ["pd", definition_id], [task_id]),
        ("processDefinitionKey", key, [task_id]),
        ("processDefinitionKeyIn", [key, "pk"], [task_id]),
        ("processDefinitionKeyIn", ["pk"], []),
        ("processDefinitionVersionTag", "v_", sorted([task_id, other])),  # both are "v1"
        ("processDefinitionVersionTag", "%2", []),
    ]:
        ids = await fetched_ids(client, fetch_body(topic("t", **{field: value})))
        assert sorted(ids) == expected, field
        for fetched in ids:  # fetchable again for the next filter
            assert (await client.post(f"{ET}/{fetched}/unlock")).status_code == 204


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
