"""Store.query / Store.count with process-variable conditions on tasks of process instances: they
compare the instance's process-level variables (Camunda's ExternalTaskQueryImpl), not the task
record."""

from __future__ import annotations

from pathlib import Path

from redtask.broker.bpmn import ProcessModel, parse_bpmn
from redtask.broker.model import NewTask
from redtask.broker.query import TaskQuery, VariableCondition
from redtask.broker.store import Store

FILES = Path(__file__).parent / "bpmn" / "files"
CUSTOMER = {"type": "Json", "value": '{"id":42,"name":"Ann"}'}


def model(name: str) -> ProcessModel:
    [parsed] = parse_bpmn((FILES / f"{name}.bpmn").read_bytes(), f"{name}.bpmn")
    return parsed


def where(name: str, operator: str, value: object) -> TaskQuery:
    return TaskQuery(process_variables=(VariableCondition(name, operator, value),))


async def ids(store: Store, query: TaskQuery) -> list[str]:
    found = sorted(t.id for t in await store.query(query))
    assert await store.count(query) == len(found)
    return found


async def test_a_condition_compares_the_variables_of_the_tasks_process_instance(store):
    state, effects = await store.start_instance(
        model("simple"), "order:1:test", {"amount": {"type": "Integer", "value": 42}}
    )
    [task] = effects.tasks_created
    standalone = await store.publish(NewTask("charge-card", {"amount": {"value": 42}}))

    assert await ids(store, where("amount", "eq", 42)) == sorted([task.id, standalone])
    assert await ids(store, where("amount", "gt", 42)) == []
    await store.modify_variables(state.instance_id, {"amount": {"value": 43}})
    assert await ids(store, where("amount", "gt", 42)) == [task.id]


async def test_a_condition_ignores_the_variables_local_to_the_tasks_execution(store):
    start = {"region": {"value": "eu"}, "priority": {"value": 7}, "customer": CUSTOMER}
    _, effects = await store.start_instance(model("input_output"), "mapping:1:test", start)
    [task] = effects.tasks_created

    assert await ids(store, where("region", "eq", "eu")) == [task.id]
    assert await ids(store, where("greeting", "like", "Hello%")) == []  # an input mapping
