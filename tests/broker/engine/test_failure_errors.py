"""fail_task: a worker's failure evaluates the task's camunda:errorEventDefinition expressions (as
HandleExternalTaskFailureCmd does); the first true one throws, an expression that raises counts as
false."""

from __future__ import annotations

from typing import Any

from redtask.broker.engine import fail_task
from tests.broker.engine.driver import Instance, round_trip, typed_map


def fail(
    pi: Instance,
    task_id: str,
    variables: dict[str, Any] | None = None,
    local: dict[str, Any] | None = None,
    **external_task: Any,
) -> str | None:
    """Report a failure; the code thrown, or None (then the state must be unchanged)."""
    before = pi.state
    step = fail_task(
        pi.model,
        pi.state,
        task_id,
        typed_map(variables),
        typed_map(local),
        pi.now,
        pi.ids,
        external_task=external_task,
    )
    if step is None:
        assert pi.state == before
        return None
    state, effects, code = step
    pi.state, pi.effects = round_trip(state), effects
    return code


def test_a_true_definition_throws_its_error_with_the_tasks_error_message() -> None:
    pi = Instance("scoped_variables.bpmn", {"kind": "a", "limit": 60})
    code = fail(pi, "5", {"total": 1}, errorMessage="too much", errorDetails="trace")
    assert code == "STOP"
    assert pi.path == ["stopped", "stopped_end"]
    assert pi.state.status == "completed"
    assert pi.variables == {
        "kind": "a",
        "limit": 60,
        "total": 1,
        "why": "STOP",
        "detail": "too much",
    }


def test_no_true_definition_leaves_the_state_unchanged() -> None:
    pi = Instance("scoped_variables.bpmn", {"kind": "a", "limit": 10})
    assert fail(pi, "5", {"total": 1}, errorMessage="small") is None
    assert pi.tasks == {"work": "5"}


def test_the_failures_local_variables_are_seen_by_the_expressions() -> None:
    pi = Instance("scoped_variables.bpmn", {"kind": "a", "limit": 10})
    assert fail(pi, "5", local={"limit": 500}) == "STOP"
    assert pi.path == ["stopped", "stopped_end"]


def test_an_expression_that_raises_counts_as_false_on_a_failure() -> None:
    """On complete the same expression is an EvaluationError (test_errors.py)."""
    pi = Instance("scoped_variables.bpmn", {"kind": "a", "limit": 10})
    assert fail(pi, "5", {"limit": "lots"}, {"limit": "lots"}) is None


def test_the_expression_sees_the_external_task() -> None:
    pi = Instance("error_event_definition.bpmn", {"timedOut": False})
    [task_id] = pi.tasks.values()
    assert fail(pi, task_id, errorDetails="all fine") is None
    assert fail(pi, task_id, errorDetails="card declined: no funds") == "CARD_DECLINED"
    assert pi.state.status == "completed"


def test_only_a_boolean_true_matches_as_in_camunda() -> None:
    """Camunda tests ``Boolean.TRUE.equals(value)``: a String result is no match, on complete
    as on failure (``${timedOut}`` is the second definition of the fixture)."""
    pi = Instance("error_event_definition.bpmn", {"timedOut": "yes"})
    [task_id] = pi.tasks.values()
    assert fail(pi, task_id, errorDetails="all fine") is None
    pi.complete(task_id, external_task={"errorDetails": "all fine"})
    assert pi.path == ["end"]


def test_tasks_are_marked_when_their_activity_has_error_event_expressions() -> None:
    [marked] = Instance("scoped_variables.bpmn", {"kind": "a", "limit": 10}).effects.tasks_created
    [plain] = Instance("simple.bpmn").effects.tasks_created
    assert (marked.error_events, plain.error_events) == (True, False)
