"""Queries and administration (reference §2.9-§2.16): GET/POST /external-task and /count with
their filters, sorting and paging, GET /{id}, errorDetails, retries (one, many, async),
priority and topic names."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from redtask.broker.definition_model import DeploymentRequest, Resource
from redtask.broker.definitions import Definitions
from redtask.broker.store import Store
from tests.conftest import FakeClock
from tests.gateway.helpers import DATE, ET, Publisher, error, fetch_body, topic

FETCH = f"{ET}/fetchAndLock"
TASK_KEYS = {
    "activityId",
    "activityInstanceId",
    "errorMessage",
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
    "priority",
    "businessKey",
}
MISSING = "no-such-task"


@dataclass
class Tasks:
    """a: topic a, prio 10, tenant t1, v="x" n=5, locked by w1 until T+10 s.
    b: topic b, prio 0, no tenant, retries 0 (incident), lock expired.
    c: topic a, prio 5, tenant t2, v="y", never locked.
    d: topic c, prio -1, retries 2, waiting out a 60 s retry timeout (worker w3)."""

    a: str
    b: str
    c: str
    d: str

    def __iter__(self):
        return iter((self.a, self.b, self.c, self.d))


@pytest.fixture
async def tasks(store: Store, clock: FakeClock, publish: Publisher) -> Tasks:
    variables_a = {"v": {"type": "String", "value": "x"}, "n": {"type": "Integer", "value": 5}}
    ids = []
    for topic_name, variables, priority, tenant_id in [
        ("a", variables_a, 10, "t1"),
        ("b", None, 0, None),
        ("a", {"v": {"type": "String", "value": "y"}}, 5, "t2"),
        ("c", None, -1, None),
    ]:
        task_id = await publish(
            topic_name, variables, priority=priority, tenant_id=tenant_id, partition=0
        )
        ids.append(task_id)
        clock.advance(1)
    # clock: T = START + 4 ms
    await store.lock(ids[0], "w1", 10_000)
    await store.lock(ids[1], "w2", 1000)
    await store.handle_failure(ids[1], "w2", "gave up", "details of b", 0, 0)
    await store.lock(ids[3], "w3", 1000)
    await store.handle_failure(ids[3], "w3", "later", None, 2, 60_000)
    clock.advance(1)  # b's lock (expiring at T) now lies in the past
    return Tasks(*ids)


async def ids_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()]


async def get_ids(client: httpx.AsyncClient, **params) -> set[str]:
    return set(await ids_of(await client.get(ET, params=params)))


async def post_ids(client: httpx.AsyncClient, body: dict, **params) -> set[str]:
    return set(await ids_of(await client.post(ET, json=body, params=params)))


async def counts(client: httpx.AsyncClient, params: dict, body: dict) -> tuple[int, int]:
    by_get = await client.get(f"{ET}/count", params=params)
    by_post = await client.post(f"{ET}/count", json=body)
    assert by_get.status_code == by_post.status_code == 200
    return by_get.json()["count"], by_post.json()["count"]


# ------------------------------------------------------------------ shape


async def test_a_listed_task_has_exactly_the_18_keys_of_external_task_dto(client, tasks, publish):
    response = await client.get(ET, params={"externalTaskId": tasks.d})

    [task] = response.json()
    assert set(task) == TASK_KEYS
    assert task == {
        **publish.process_fields(tasks.d),  # all null for a standalone task
        "errorMessage": "later",
        "id": tasks.d,
        "lockExpirationTime": "2023-11-14T22:14:20.004+0000",
        "createTime": "2023-11-14T22:13:20.003+0000",
        "retries": 2,
        "suspended": False,
        "workerId": "w3",
        "topicName": "c",
        "tenantId": None,
        "priority": -1,
        "businessKey": None,
    }


async def test_get_by_id_returns_the_same_dto(client, tasks):
    listed = (await client.get(ET, params={"externalTaskId": tasks.a})).json()[0]

    response = await client.get(f"{ET}/{tasks.a}")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == listed
    assert set(listed) == TASK_KEYS
    assert (listed["tenantId"], listed["workerId"], listed["retries"]) == ("t1", "w1", None)
    assert DATE.match(listed["lockExpirationTime"]) and DATE.match(listed["createTime"])


async def test_get_by_id_of_an_unknown_task_is_404_with_code_null(client):
    response = await client.get(f"{ET}/{MISSING}")

    assert response.status_code == 404
    assert response.json() == error(
        "RestException", f"External task with id {MISSING} does not exist", None
    )


async def test_no_filter_lists_and_counts_every_task(client, tasks):
    assert await get_ids(client) == set(tasks)
    assert await post_ids(client, {}) == set(tasks)
    assert await counts(client, {}, {}) == (4, 4)


# ------------------------------------------------------------------ filters


FILTERS = [
    ("externalTaskId", "a", {"a"}),
    ("externalTaskIdIn", ["a", "c"], {"a", "c"}),
    ("topicName", "a", {"a", "c"}),
    ("workerId", "w1", {"a"}),
    ("workerId", "w3", {"d"}),
    ("locked", True, {"a", "d"}),
    ("notLocked", True, {"b", "c"}),
    ("withRetriesLeft", True, {"a", "c", "d"}),
    ("noRetriesLeft", True, {"b"}),
    ("tenantIdIn", ["t1", "t2"], {"a", "c"}),
    ("tenantIdIn", ["t2"], {"c"}),
    ("priorityHigherThanOrEquals", 5, {"a", "c"}),
    ("priorityLowerThanOrEquals", 0, {"b", "d"}),
    ("locked", False, {"a", "b", "c", "d"}),
    ("notLocked", False, {"a", "b", "c", "d"}),
    ("withRetriesLeft", False, {"a", "b", "c", "d"}),
]


def _resolve(tasks: Tasks, value):
    names = {"a": tasks.a, "b": tasks.b, "c": tasks.c, "d": tasks.d}
    if isinstance(value, list):
        return [names.get(v, v) for v in value]
    return names.get(value, value) if isinstance(value, str) else value


def _as_query_string(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


@pytest.mark.parametrize(("name", "value", "expected"), FILTERS)
async def test_each_filter_selects_the_same_tasks_by_get_post_and_count(
    client, tasks, name, value, expected
):
    if name in ("externalTaskId", "externalTaskIdIn"):
        value = _resolve(tasks, value)
    wanted = {getattr(tasks, n) for n in expected}

    by_get = await get_ids(client, **{name: _as_query_string(value)})
    by_post = await post_ids(client, {name: value})

    assert by_get == wanted
    assert by_post == wanted
    assert await counts(client, {name: _as_query_string(value)}, {name: value}) == (
        len(wanted),
        len(wanted),
    )


async def test_filters_are_and_ed(client, tasks):
    params = {"topicName": "a", "priorityHigherThanOrEquals": "6"}

    assert await get_ids(client, **params) == {tasks.a}
    assert await post_ids(client, {"topicName": "a", "notLocked": True}) == {tasks.c}


async def test_lock_expiration_after_and_before_are_strict(client, tasks):
    a_expires = "2023-11-14T22:13:30.004+0000"  # T + 10 s

    assert await get_ids(client, lockExpirationAfter=a_expires) == {tasks.d}
    assert await get_ids(client, lockExpirationBefore=a_expires) == {tasks.b}
    assert await post_ids(client, {"lockExpirationAfter": "2023-11-14T22:13:30.003+0000"}) == {
        tasks.a,
        tasks.d,
    }
    assert await post_ids(client, {"lockExpirationBefore": "2023-11-14T22:13:30.005+0000"}) == {
        tasks.a,
        tasks.b,
    }


async def test_lock_expiration_dates_are_read_leniently(client, tasks):
    assert await get_ids(client, lockExpirationAfter="2023-11-14T23:13:30.004+01:00") == {tasks.d}
    assert await get_ids(client, lockExpirationAfter="2023-11-14T22:13:30.004Z") == {tasks.d}


async def test_a_task_whose_lock_expires_this_very_millisecond_is_neither_locked_nor_not_locked(
    client, publish, store, clock
):
    task_id = await publish("t")
    await store.lock(task_id, "w", 1000)
    clock.advance(1000)  # lockExpirationTime == now

    assert await get_ids(client, locked="true") == set()
    assert await get_ids(client, notLocked="true") == set()  # Camunda: LOCK_EXP_TIME_ < now


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("lockExpirationAfter", "yesterday"),
        ("lockExpirationBefore", "2023-13-45"),
        ("priorityHigherThanOrEquals", "high"),
        ("locked", "yes"),
    ],
)
async def test_a_query_parameter_that_does_not_convert_is_a_400(client, name, value):
    response = await client.get(ET, params={name: value})

    assert response.status_code == 400
    assert response.json() == error(
        "InvalidRequestException", f"Cannot set query parameter '{name}' to value '{value}'"
    )


async def test_process_variables_in_get_form_are_name_operator_value_triples(client, tasks):
    assert await get_ids(client, processVariables="v_eq_x") == {tasks.a}
    assert await get_ids(client, processVariables="v_neq_x") == {tasks.c}
    assert await get_ids(client, processVariables="v_like_%") == {tasks.a, tasks.c}
    assert await get_ids(client, processVariables="v_eq_x,v_eq_y") == set()
    assert await get_ids(client, processVariables="v_gteq_x,v_lteq_y") == {tasks.a, tasks.c}


async def test_process_variables_in_post_form_compare_typed_values(client, tasks):
    def cond(name, operator, value):
        return {"processVariables": [{"name": name, "operator": operator, "value": value}]}

    assert await post_ids(client, cond("n", "eq", 5)) == {tasks.a}
    assert await post_ids(client, cond("n", "gt", 4)) == {tasks.a}
    assert await post_ids(client, cond("n", "lt", 5)) == set()
    assert await post_ids(client, cond("v", "notLike", "x%")) == {tasks.c}
    assert await counts(client, {"processVariables": "v_eq_y"}, cond("v", "eq", "y")) == (1, 1)


@pytest.mark.parametrize("how", ["get", "post"])
async def test_an_unknown_variable_operator_is_a_400_with_code_null(client, tasks, how):
    if how == "get":
        response = await client.get(ET, params={"processVariables": "v_approx_x"})
    else:
        condition = {"name": "v", "operator": "approx", "value": "x"}
        response = await client.post(ET, json={"processVariables": [condition]})

    assert response.status_code == 400
    assert response.json() == error(
        "InvalidRequestException", "Invalid process variable comparator specified: approx", None
    )


async def test_unknown_query_fields_are_ignored(client, tasks):
    assert await get_ids(client, color="blue", topicName="b") == {tasks.b}
    assert await post_ids(client, {"color": "blue", "topicName": "b"}) == {tasks.b}


async def test_process_filters_naming_no_instance_definition_or_activity_match_nothing(
    client, tasks
):
    for name, value in [
        ("processInstanceId", "p"),
        ("processDefinitionKey", "k"),
        ("activityId", "act"),
        ("executionId", "e"),
    ]:
        assert await get_ids(client, **{name: value}) == set(), name
        assert await post_ids(client, {name: value}) == set(), name


@pytest.mark.process_only("a standalone task has no instance, definition or activity")
async def test_process_filters_select_the_tasks_of_those_instances_definitions_and_activities(
    client, tasks, publish
):
    a, b, c = (publish.process_fields(t) for t in (tasks.a, tasks.b, tasks.c))

    for name, value, expected in [
        ("processInstanceId", a["processInstanceId"], {tasks.a}),
        (
            "processInstanceIdIn",
            [a["processInstanceId"], b["processInstanceId"]],
            {tasks.a, tasks.b},
        ),
        ("processDefinitionId", c["processDefinitionId"], {tasks.c}),
        ("processDefinitionKey", b["processDefinitionKey"], {tasks.b}),
        ("processDefinitionKeyIn", [a["processDefinitionKey"], "k"], {tasks.a}),
        ("activityId", "work", set(tasks)),
        ("activityIdIn", ["act", "work"], set(tasks)),
        ("executionId", c["executionId"], {tasks.c}),
    ]:
        assert await get_ids(client, **{name: _as_query_string(value)}) == expected, name
        assert await post_ids(client, {name: value}) == expected, name


async def start_named(store: Store, key: str, name: str | None, topic_name: str) -> str:
    """Deploy a one-task process ``key`` called ``name``, start it; its task's id."""
    named = "" if name is None else f' name="{name}"'
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="{key}"{named} isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:serviceTask id="work" camunda:type="external" camunda:topic="{topic_name}" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>"""
    definitions = Definitions.of(store)
    result = await definitions.deploy(
        DeploymentRequest([Resource(f"{key}.bpmn", xml.encode())], name=key)
    )
    assert result.definitions is not None
    [definition] = result.definitions
    model = await definitions.get_model(definition.id)
    _, effects = await store.start_instance(model, definition.id)
    [created] = effects.tasks_created
    return created.id


NAME_FILTERS = [
    ("processDefinitionName", "Order Handling", {"order"}),
    ("processDefinitionName", "Refund", {"refund"}),
    ("processDefinitionName", "order handling", set()),  # exact, case included
    ("processDefinitionName", "Nothing", set()),
    ("processDefinitionNameLike", "%Handling", {"order"}),
    ("processDefinitionNameLike", "Re_und", {"refund"}),
    ("processDefinitionNameLike", "%", {"order", "refund"}),  # a NULL name is never LIKE
]


@pytest.mark.parametrize(("name", "value", "expected"), NAME_FILTERS)
async def test_definition_name_filters_select_the_tasks_of_definitions_with_that_name(
    client, tasks, store, name, value, expected
):
    """The fixture's tasks never match: standalone ones have no definition, the publisher's
    processes no name (nor does "nameless" here)."""
    named = {
        "order": await start_named(store, "order-handling", "Order Handling", "a"),
        "refund": await start_named(store, "refund", "Refund", "b"),
        "nameless": await start_named(store, "nameless", None, "a"),
    }
    wanted = {named[n] for n in expected}

    assert await get_ids(client, **{name: value}) == wanted
    assert await post_ids(client, {name: value}) == wanted
    assert await counts(client, {name: value}, {name: value}) == (len(wanted), len(wanted))


async def test_definition_name_filters_are_and_ed_with_the_others(client, tasks, store):
    order = await start_named(store, "order-handling", "Order Handling", "a")
    refund = await start_named(store, "refund", "Refund", "b")
    both = {"processDefinitionName": "Order Handling", "processDefinitionNameLike": "Order%"}

    assert await post_ids(client, both) == {order}
    assert await post_ids(client, {**both, "topicName": "b"}) == set()
    assert await get_ids(client, processDefinitionNameLike="%", topicName="b") == {refund}


async def test_bulk_retries_by_a_query_on_definition_names(client, tasks, store):
    refund = await start_named(store, "refund", "Refund", "b")
    body = {"retries": 4, "externalTaskQuery": {"processDefinitionNameLike": "Ref%"}}

    response = await client.put(f"{ET}/retries", json=body)

    assert (response.status_code, response.content) == (204, b"")
    assert (await client.get(f"{ET}/{refund}")).json()["retries"] == 4
    assert await retries_of(client, *tasks) == [None, 0, None, 2]


# ------------------------------------------------------------------ sorting and paging


async def test_get_sorts_by_sort_by_and_sort_order(client, tasks):
    by_priority = await client.get(ET, params={"sortBy": "taskPriority", "sortOrder": "desc"})
    by_creation = await client.get(ET, params={"sortBy": "createTime", "sortOrder": "asc"})
    by_id = await client.get(ET, params={"sortBy": "id", "sortOrder": "desc"})

    assert await ids_of(by_priority) == [tasks.a, tasks.c, tasks.b, tasks.d]
    assert await ids_of(by_creation) == [tasks.a, tasks.b, tasks.c, tasks.d]
    assert await ids_of(by_id) == sorted(tasks, reverse=True)


@pytest.mark.parametrize("params", [{"sortBy": "id"}, {"sortOrder": "asc"}])
async def test_only_one_of_sort_by_and_sort_order_is_a_400(client, params):
    response = await client.get(ET, params=params)

    assert response.status_code == 400
    assert response.json() == error(
        "InvalidRequestException",
        "Only a single sorting parameter specified. sortBy and sortOrder required",
    )


@pytest.mark.parametrize(
    ("params", "name", "value"),
    [
        ({"sortBy": "x", "sortOrder": "asc"}, "sortBy", "x"),
        ({"sortBy": "topicName", "sortOrder": "asc"}, "sortBy", "topicName"),
        ({"sortBy": "id", "sortOrder": "up"}, "sortOrder", "up"),
        ({"sortBy": "id", "sortOrder": "DESC"}, "sortOrder", "DESC"),
    ],
)
async def test_an_invalid_sort_by_or_sort_order_is_a_400(client, params, name, value):
    response = await client.get(ET, params=params)

    assert response.status_code == 400
    assert response.json() == error(
        "InvalidRequestException", f"Cannot set query parameter '{name}' to value '{value}'"
    )


async def test_post_sorting_is_an_array_ranked_by_position(client, publish, clock):
    ranked = []
    for priority in (1, 1, 2):
        ranked.append(await publish("t", priority=priority, partition=0))
        clock.advance(10)
    first, second, top = ranked
    sorting = [
        {"sortBy": "taskPriority", "sortOrder": "desc"},
        {"sortBy": "createTime", "sortOrder": "desc"},
    ]

    response = await client.post(ET, json={"sorting": sorting})

    assert await ids_of(response) == [top, second, first]


async def test_post_sorting_is_validated(client):
    response = await client.post(ET, json={"sorting": [{"sortBy": "x", "sortOrder": "asc"}]})

    assert response.status_code == 400
    assert response.json()["message"] == "Cannot set query parameter 'sortBy' to value 'x'"


async def test_post_count_ignores_sorting(client, tasks):
    body = {"topicName": "a", "sorting": [{"sortBy": "taskPriority", "sortOrder": "asc"}]}

    response = await client.post(f"{ET}/count", json=body)

    assert response.json() == {"count": 2}


async def test_first_result_and_max_results_page_get_and_post(client, tasks):
    params = {"sortBy": "taskPriority", "sortOrder": "desc", "firstResult": 1, "maxResults": 2}
    body = {"sorting": [{"sortBy": "taskPriority", "sortOrder": "desc"}]}

    by_get = await client.get(ET, params=params)
    by_post = await client.post(ET, json=body, params={"firstResult": 1, "maxResults": 2})
    tail = await client.get(ET, params={**params, "firstResult": 3, "maxResults": 10})
    head = await client.post(ET, json=body, params={"maxResults": 1})

    assert await ids_of(by_get) == [tasks.c, tasks.b]
    assert await ids_of(by_post) == [tasks.c, tasks.b]
    assert await ids_of(tail) == [tasks.d]
    assert await ids_of(head) == [tasks.a]


async def test_paging_in_the_post_body_is_not_paging(client, tasks):
    assert len(await ids_of(await client.post(ET, json={"maxResults": 1}))) == 4


# ------------------------------------------------------------------ errorDetails


async def test_error_details_are_plain_text(client, tasks):
    response = await client.get(f"{ET}/{tasks.b}/errorDetails")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "details of b"


async def test_error_details_of_a_task_without_details_are_204(client, tasks):
    for task_id in (tasks.c, tasks.d):
        response = await client.get(f"{ET}/{task_id}/errorDetails")
        assert (response.status_code, response.content) == (204, b"")


async def test_error_details_of_an_unknown_task_are_a_null_value_exception(client):
    response = await client.get(f"{ET}/{MISSING}/errorDetails")

    assert response.status_code == 400  # Camunda: 500
    assert response.json() == error(
        "NullValueException", f"No external task found with id {MISSING}: externalTask is null", 0
    )


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


async def retries_of(client: httpx.AsyncClient, *task_ids: str) -> list[int | None]:
    return [(await client.get(f"{ET}/{t}")).json()["retries"] for t in task_ids]


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


# ------------------------------------------------------------------ topic names


TOPIC_NAME_CASES = [
    ({}, ["a", "b", "c"]),
    ({"withLockedTasks": "true"}, ["a", "c"]),
    ({"withUnlockedTasks": "true"}, ["a", "b"]),
    ({"withRetriesLeft": "true"}, ["a", "c"]),
    ({"withLockedTasks": "true", "withRetriesLeft": "true"}, ["a", "c"]),
    ({"withUnlockedTasks": "true", "withRetriesLeft": "true"}, ["a"]),
    ({"withLockedTasks": "true", "withUnlockedTasks": "true"}, []),
    (
        {"withLockedTasks": "false", "withUnlockedTasks": "false", "withRetriesLeft": "false"},
        ["a", "b", "c"],
    ),
]


@pytest.mark.parametrize(("params", "expected"), TOPIC_NAME_CASES)
async def test_topic_names_are_the_distinct_topics_matching_the_flags(
    client, tasks, params, expected
):
    response = await client.get(f"{ET}/topic-names", params=params)

    assert response.status_code == 200
    assert sorted(response.json()) == expected
    assert len(response.json()) == len(expected)


async def test_topic_names_of_no_tasks_are_an_empty_list(client):
    response = await client.get(f"{ET}/topic-names")

    assert (response.status_code, response.json()) == (200, [])
