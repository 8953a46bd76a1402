"""set_task_variables: a failure's variables are set on the task's execution
(HandleExternalTaskFailureCmd) while the task keeps waiting; the rules are those of completion
(CompleteExternalTaskCmd)."""

from __future__ import annotations

import pytest

from redtask.broker.engine import Effects, InstanceEnded, UnknownTask, set_task_variables
from tests.broker.engine.driver import Instance, round_trip, typed, typed_map


def set_failure_variables(
    pi: Instance, task_id: str, variables: dict[str, object], local: dict[str, object]
) -> None:
    pi.state = round_trip(
        set_task_variables(pi.model, pi.state, task_id, typed_map(variables), typed_map(local))
    )
    pi.effects = Effects()


def test_variables_go_to_the_nearest_scope_that_has_them_and_locals_to_the_task() -> None:
    pi = Instance("scoped_variables.bpmn", {"kind": "a", "limit": 10})
    [task_id] = pi.tasks.values()
    before = pi.state

    set_failure_variables(pi, task_id, {"note": "changed", "fresh": 1}, {"tmp": True})

    assert pi.locals("work") == {"note": "changed", "limit": 20, "tmp": True}
    assert pi.variables == {"kind": "a", "limit": 10, "fresh": 1}
    assert pi.tasks == {"work": task_id}
    # nothing moved: the same executions wait for the same things
    assert [(e.id, e.element_id, e.wait) for e in pi.state.executions] == [
        (e.id, e.element_id, e.wait) for e in before.executions
    ]
    assert before.variables == typed_map({"kind": "a", "limit": 10})  # the input is unchanged


def test_a_task_with_output_mappings_keeps_the_variables_local_as_on_completion() -> None:
    customer = {"type": "Json", "value": '{"id": 7, "name": "Ada"}', "valueInfo": {}}
    pi = Instance("input_output.bpmn", {"customer": customer, "region": "eu", "priority": 1})
    [task_id] = pi.tasks.values()

    set_failure_variables(pi, task_id, {"result": "partial"}, {})

    assert pi.locals("lookup")["result"] == "partial"
    assert "result" not in pi.variables


def test_a_task_the_instance_does_not_wait_for_is_unknown() -> None:
    pi = Instance("simple.bpmn")
    with pytest.raises(UnknownTask):
        set_task_variables(pi.model, pi.state, "nope", {"a": typed(1)}, {})


def test_an_ended_instance_takes_no_variables() -> None:
    pi = Instance("simple.bpmn")
    [task_id] = pi.tasks.values()
    pi.complete(task_id)
    with pytest.raises(InstanceEnded):
        set_task_variables(pi.model, pi.state, task_id, {"a": typed(1)}, {})
