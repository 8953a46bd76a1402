"""The filters of GET/POST /external-task and /count (ExternalTaskQueryDto): each selects the
same tasks by GET, POST and count, they are and-ed, values convert or are a 400, and process
filters (instances, definitions, activities, definition names) select those tasks."""

from __future__ import annotations

import pytest

from redtask.broker.definition_model import DeploymentRequest, Resource
from redtask.broker.store import Store
from tests.gateway.helpers import ET, error
from tests.gateway.query_helpers import Tasks, counts, get_ids, post_ids, retries_of

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
    definitions = store.definitions
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
