"""fetch_and_lock.lua and Store.fetch_and_lock with tasks of process instances: the
``processVariables`` filter matches the instance's process-level variables (Camunda's
FetchExternalTasksDto.FetchExternalTaskTopicDto#processVariables), and ``variables`` /
``localVariables`` select from the task's execution."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redtask.broker.bpmn import ProcessModel, parse_bpmn
from redtask.broker.model import NewTask, TopicRequest, TopicStats
from redtask.broker.store import Store

FILES = Path(__file__).parents[1] / "bpmn" / "files"
ORDER = "order:1:test"  # simple.bpmn: its task is on topic "charge-card"
MAPPING = "mapping:1:test"  # input_output.bpmn: input mappings fill the task's own scope
CUSTOMER = {"type": "Json", "value": '{"id":42,"name":"Ann"}'}


def model(name: str) -> ProcessModel:
    [parsed] = parse_bpmn((FILES / f"{name}.bpmn").read_bytes(), f"{name}.bpmn")
    return parsed


async def order(store: Store, variables: dict[str, Any] | None = None) -> str:
    """Start an ``order`` instance; returns the id of its task."""
    _, effects = await store.start_instance(model("simple"), ORDER, variables)
    [task] = effects.tasks_created
    return task.id


async def fetch_ids(store: Store, **filters: Any) -> list[str]:
    tasks = await store.fetch_and_lock("w", 100, [TopicRequest("charge-card", 1000, **filters)])
    return sorted(t.id for t in tasks)


# ------------------------------------------------------------------ processVariables


async def test_process_variable_filters_match_the_instances_variables_or_ed(store):
    a_is_1 = await order(store, {"a": {"value": 1}})
    b_is_x = await order(store, {"b": {"type": "String", "value": "x"}})
    await order(store, {"a": {"value": 2}, "b": {"value": "y"}})
    await order(store)

    got = await fetch_ids(store, process_variables={"a": 1, "b": "x"})

    assert got == sorted([a_is_1, b_is_x])
    assert await store.topic_stats() == [TopicStats("charge-card", 2, 2, 0, 0)]


async def test_a_process_variable_filter_sees_variables_changed_after_the_task_was_created(store):
    state, effects = await store.start_instance(model("simple"), ORDER, {"a": {"value": 1}})
    [task] = effects.tasks_created
    await store.modify_variables(state.instance_id, {"a": {"value": 2}})

    assert await fetch_ids(store, process_variables={"a": 1}) == []
    assert await fetch_ids(store, process_variables={"a": 2}) == [task.id]


async def test_a_process_variable_filter_ignores_variables_local_to_the_tasks_execution(store):
    start = {"region": {"value": "eu"}, "priority": {"value": 7}, "customer": CUSTOMER}
    _, effects = await store.start_instance(model("input_output"), MAPPING, start)
    [task] = effects.tasks_created
    topic = TopicRequest("eu-lookup", 1000, process_variables={"customerId": 42})

    assert await store.fetch_and_lock("w", 1, [topic]) == []  # an input mapping: local
    by_region = TopicRequest("eu-lookup", 1000, process_variables={"region": "eu"})
    assert [t.id for t in await store.fetch_and_lock("w", 1, [by_region])] == [task.id]


async def test_a_process_variable_filter_compares_long_values_exactly(store):
    task_id = await order(store, {"n": {"type": "Long", "value": 2**62 + 1}})

    assert await fetch_ids(store, process_variables={"n": 2**62}) == []
    assert await fetch_ids(store, process_variables={"n": 2**62 + 1}) == [task_id]


async def test_a_process_variable_filter_finds_names_that_json_escapes(store):
    name = 'quote" back\\slash/ünï\ncode'
    task_id = await order(store, {name: {"type": "String", "value": "x"}})

    assert await fetch_ids(store, process_variables={name: "x"}) == [task_id]


async def test_brackets_braces_and_quotes_inside_earlier_values_do_not_confuse_the_filter(store):
    tricky = '}]"{["\\'
    task_id = await order(
        store,
        {
            "s": {"type": "String", "value": tricky},
            "j": {"type": "Json", "value": '{"k": [1, {"x": "]"}]}'},
            "o": {
                "type": "Object",
                "value": '{"a":"}"}',
                "valueInfo": {
                    "objectTypeName": "java.util.HashMap",
                    "serializationDataFormat": "application/json",
                },
            },
            "wanted": {"type": "Boolean", "value": True},
        },
    )

    assert await fetch_ids(store, process_variables={"wanted": True}) == [task_id]


async def test_a_process_variable_filter_looks_at_each_tasks_own_kind_of_variables(store):
    process = await order(store, {"a": {"value": 1}})
    standalone = await store.publish(NewTask("charge-card", {"a": {"value": 1}}))
    await order(store, {"b": {"value": 1}})
    await store.publish(NewTask("charge-card", {"b": {"value": 1}}))

    assert await fetch_ids(store, process_variables={"a": 1}) == sorted([process, standalone])


# ------------------------------------------------------------------ variables / localVariables


async def mapping_task(store: Store, **selection: Any) -> dict[str, Any]:
    start = {"region": {"value": "eu"}, "priority": {"value": 7}, "customer": CUSTOMER}
    await store.start_instance(model("input_output"), MAPPING, start)
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("eu-lookup", 1000, **selection)])
    return task.variables


def typed(type_: str, value: Any) -> dict[str, Any]:
    return {"type": type_, "value": value, "valueInfo": {}}


LOCALS = {
    "customerId": typed("Integer", 42),
    "greeting": typed("String", "Hello Ann"),
    "constant": typed("String", "fixed"),
    "nothing": typed("Null", None),
}


async def test_a_process_task_shows_every_variable_visible_from_its_execution(store):
    assert await mapping_task(store) == {
        "region": typed("String", "eu"),
        "priority": typed("Integer", 7),
        "customer": typed("Json", '{"id":42,"name":"Ann"}'),
        **LOCALS,
    }


async def test_local_variables_show_only_those_of_the_tasks_own_execution(store):
    assert await mapping_task(store, local_variables=True) == LOCALS


async def test_a_variable_selection_applies_to_local_variables_too(store):
    got = await mapping_task(store, local_variables=True, variables=("greeting", "region"))

    assert got == {"greeting": typed("String", "Hello Ann")}


async def test_a_variable_selection_picks_from_every_scope(store):
    got = await mapping_task(store, variables=("greeting", "region", "missing"))

    assert got == {"greeting": typed("String", "Hello Ann"), "region": typed("String", "eu")}
