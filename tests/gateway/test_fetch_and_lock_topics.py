"""POST /external-task/fetchAndLock, what is fetched: the LockedExternalTaskDto shape, the topics
requested (lockDuration, duplicates, the lock itself), the variables returned, and each topic's
filters (business key, process variables, tenants, process definitions)."""

from __future__ import annotations

import pytest

from tests.conftest import START_MS
from tests.gateway.fetch_helpers import FETCH, INTEGER_B, LOCKED_KEYS, STRING_A, fetch, fetched_ids
from tests.gateway.helpers import DATE, ET, START, error, fetch_body, topic

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


@pytest.mark.parametrize(
    ("deserialize", "value"), [(False, '{"k":1}'), (None, '{"k":1}'), (True, {"k": 1})]
)
async def test_json_object_variables_are_parsed_only_when_deserialize_values_says_so(
    client, publish, deserialize, value
):
    info = {"objectTypeName": "java.util.HashMap", "serializationDataFormat": "application/json"}
    await publish("t", variables={"o": {"type": "Object", "value": '{"k":1}', "valueInfo": info}})

    [task] = await fetch(client, fetch_body(topic("t", deserializeValues=deserialize)))

    assert task["variables"] == {"o": {"type": "Object", "value": value, "valueInfo": info}}


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


@pytest.mark.parametrize("huge", [2**64, -(2**63) - 1, [2**70], {"n": 10**30}])
async def test_process_variables_beyond_64_bit_integers_match_nothing(client, publish, huge):
    """No variable holds an integer outside Long's range: such a filter fetches nothing."""
    await publish("t", variables={"a": {"type": "Long", "value": 2**63 - 1}})
    small = await publish("t", variables={"b": {"type": "Integer", "value": 2}})

    assert await fetch(client, fetch_body(topic("t", processVariables={"a": huge}))) == []
    ids = await fetched_ids(client, fetch_body(topic("t", processVariables={"a": huge, "b": 2})))
    assert ids == [small]


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
