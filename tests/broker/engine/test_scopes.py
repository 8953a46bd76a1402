"""Embedded sub-processes, terminate end events, input/output mappings and variable scopes."""

from __future__ import annotations

import pytest

from redtask.broker.engine import EvaluationError, NewTimer
from tests.broker.engine.driver import HOUR, NOW, Instance, as_json


def test_a_sub_process_completes_when_its_paths_end_and_then_moves_on() -> None:
    pi = Instance("sub_process.bpmn")
    [sub, inner] = [e for e in pi.state.executions if e.element_id in ("ship", "label")]
    assert (sub.id, sub.parent_id, sub.scope_id, sub.activity_instance_id) == (
        "1",
        "pi",
        None,
        "ship:2",
    )
    assert (inner.id, inner.parent_id, inner.scope_id) == ("3", "1", "ship")
    pi.complete("5")
    assert pi.path == ["ship_end", "end"]
    assert pi.state.status == "completed"


def test_terminate_end_in_a_sub_process_ends_only_the_sub_process() -> None:
    pi = Instance("terminate.bpmn")
    assert pi.path == ["start", "fork", "sub", "sub_start", "sub_fork", "inner", "quit", "watch"]
    assert pi.created == {"inner": "7", "quit": "9", "watch": "12"}
    assert pi.effects.timers_scheduled == (NewTimer("11", NOW + HOUR, "2", "watch_timer"),)
    pi.complete("9")
    assert pi.path == ["sub_kill", "after"]
    assert pi.effects.tasks_deleted == ("7",)
    assert pi.tasks == {"watch": "12", "after": "14"}
    assert pi.state.status == "active"


def test_terminate_end_at_process_level_ends_everything() -> None:
    pi = Instance("terminate.bpmn")
    pi.complete("12")
    assert pi.path == ["kill"]
    assert pi.effects.timers_cancelled == ("11",)
    assert pi.effects.tasks_deleted == ("7", "9")
    assert pi.effects.ended == "completed"
    assert pi.state.status == "completed"
    assert pi.state.executions == () and pi.state.timers == ()


def test_cancel_deletes_every_task_and_timer_inside_sub_processes() -> None:
    pi = Instance("terminate.bpmn")
    pi.cancel()
    assert pi.effects.tasks_deleted == ("12", "7", "9")
    assert pi.effects.timers_cancelled == ("11",)
    assert pi.effects.ended == "terminated"


def test_input_mappings_fill_the_task_scope_and_topic_priority_are_evaluated() -> None:
    customer = as_json({"id": 42, "name": "Ann"})
    pi = Instance("input_output.bpmn", {"region": "eu", "priority": 7, "customer": customer})
    [task] = pi.effects.tasks_created
    assert (task.topic, task.priority, task.activity_instance_id) == ("eu-lookup", 7, "lookup:2")
    assert pi.locals("lookup") == {
        "customerId": 42,
        "greeting": "Hello Ann",
        "constant": "fixed",
        "nothing": None,
    }


def test_with_output_mappings_only_mapped_outputs_leave_the_task() -> None:
    customer = as_json({"id": 42, "name": "Ann"})
    pi = Instance("input_output.bpmn", {"region": "eu", "priority": 7, "customer": customer})
    pi.complete("3", {"result": as_json({"score": 9}), "extra": "x"}, {"tmp": 1})
    assert pi.path == ["end"]
    assert pi.state.variables["score"] == {"type": "Integer", "value": 9, "valueInfo": {}}
    assert sorted(pi.variables) == ["customer", "priority", "region", "score"]


def test_a_failing_input_mapping_names_the_parameter() -> None:
    with pytest.raises(EvaluationError, match="parameter 'customerId' of 'lookup'"):
        Instance("input_output.bpmn", {"region": "eu", "priority": 7})


def test_variables_go_to_the_nearest_scope_that_has_them_else_the_process() -> None:
    pi = Instance("scoped_variables.bpmn", {"kind": "a", "limit": 10})
    [task] = pi.effects.tasks_created
    assert task.topic == "work-a"
    assert pi.locals("work") == {"note": "a", "limit": 20}
    pi.complete("5", {"note": "changed", "total": 3}, {"scratch": True})
    assert pi.variables == {"kind": "a", "limit": 10, "total": 3}


def test_a_bare_variable_mapping_copies_the_typed_value() -> None:
    pi = Instance("scoped_variables.bpmn", {"kind": as_json(["x"]), "limit": 10})
    [work] = [e for e in pi.state.executions if e.element_id == "work"]
    assert work.variables["note"] == as_json(["x"])
