"""Start, complete, cancel; the state's JSON shape; purity of every step."""

from __future__ import annotations

import json

import pytest

from redtask.broker.engine import (
    CounterIds,
    InstanceEnded,
    InstanceState,
    InvalidState,
    NewTask,
    UnknownTask,
    UuidIds,
    complete_task,
    start,
)
from tests.broker.engine.driver import NOW, Instance, load, typed


def test_start_creates_the_first_external_task_and_waits() -> None:
    pi = Instance("simple.bpmn", {"amount": 5}, business_key="order-7", tenant_id="acme")
    assert pi.path == ["start", "charge"]
    assert pi.effects.tasks_created == (
        NewTask(
            id="3",
            topic="charge-card",
            priority=10,
            activity_id="charge",
            activity_instance_id="charge:2",
            execution_id="1",
            extension_properties={"retriesHint": "3", "owner": "payments"},
            tenant_id="acme",
            business_key="order-7",
        ),
    )
    assert pi.effects.ended is None
    assert pi.state.status == "active"


def test_the_state_json_shape() -> None:
    pi = Instance("simple.bpmn", {"amount": 5}, business_key="order-7")
    assert pi.state.to_json() == {
        "instanceId": "pi",
        "definitionId": "order",
        "businessKey": "order-7",
        "tenantId": None,
        "status": "active",
        "variables": {"amount": {"type": "Integer", "value": 5, "valueInfo": {}}},
        "executions": [
            {
                "id": "pi",
                "parentId": None,
                "scopeId": None,
                "elementId": None,
                "wait": None,
                "activityInstanceId": None,
                "variables": {},
            },
            {
                "id": "1",
                "parentId": "pi",
                "scopeId": None,
                "elementId": "charge",
                "wait": {"kind": "task", "ref": "3"},
                "activityInstanceId": "charge:2",
                "variables": {},
            },
        ],
        "timers": [],
    }


def test_completing_the_last_task_completes_the_instance() -> None:
    pi = Instance("simple.bpmn", {"amount": 5})
    pi.complete("3", {"paid": True})
    assert pi.path == ["end"]
    assert pi.effects.ended == "completed"
    assert pi.effects.tasks_deleted == ()  # the completed task is the caller's to delete
    assert pi.state.status == "completed"
    assert pi.state.executions == ()
    assert pi.variables == {"amount": 5, "paid": True}


def test_a_completed_instance_takes_no_more_events() -> None:
    pi = Instance("simple.bpmn")
    pi.complete("3")
    with pytest.raises(InstanceEnded, match="Process instance pi is completed"):
        pi.complete("3")
    with pytest.raises(InstanceEnded):
        pi.cancel()


def test_an_unknown_task_is_refused() -> None:
    pi = Instance("simple.bpmn")
    with pytest.raises(UnknownTask, match="External task with id nope does not exist"):
        pi.complete("nope")


def test_cancel_deletes_tasks_and_terminates() -> None:
    pi = Instance("simple.bpmn")
    pi.cancel()
    assert pi.effects.tasks_deleted == ("3",)
    assert pi.effects.ended == "terminated"
    assert pi.path == []
    assert pi.state.status == "terminated"
    assert pi.state.executions == ()


def test_steps_are_pure_and_deterministic() -> None:
    pi = Instance("simple.bpmn", {"amount": 5})
    before = json.dumps(pi.state.to_json(), sort_keys=True)
    first = complete_task(pi.model, pi.state, "3", {"x": typed(1)}, {}, NOW, CounterIds("a"))
    second = complete_task(pi.model, pi.state, "3", {"x": typed(1)}, {}, NOW, CounterIds("a"))
    assert first == second
    assert json.dumps(pi.state.to_json(), sort_keys=True) == before


def test_production_ids_are_uuids_and_definition_id_is_kept() -> None:
    model = load("simple.bpmn")
    state, effects = start(model, "pi", {}, None, None, NOW, UuidIds(), definition_id="order:1:d")
    [task] = effects.tasks_created
    assert len(task.id) == 36 and task.activity_instance_id.startswith("charge:")
    assert state.definition_id == "order:1:d"


def test_a_malformed_state_is_refused() -> None:
    with pytest.raises(InvalidState):
        InstanceState.from_json({"instanceId": "pi"})
    data = Instance("simple.bpmn").state.to_json()
    with pytest.raises(InvalidState, match="unknown status"):
        InstanceState.from_json({**data, "status": "paused"})
