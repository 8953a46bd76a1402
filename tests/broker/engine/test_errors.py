"""BPMN errors: boundary handlers (coded before catch-all), propagation out of sub-processes,
error end events, camunda:errorEventDefinition and errors nobody catches."""

from __future__ import annotations

import pytest

from redtask.broker.engine import EvaluationError
from tests.broker.engine.driver import Instance


def test_a_coded_boundary_event_beats_an_earlier_catch_all() -> None:
    pi = Instance("boundary_error.bpmn")
    pi.error("3", "CARD_DECLINED", "no funds", {"attempt": 2})
    assert pi.path == ["on_declined", "declined"]
    assert pi.variables == {"attempt": 2, "code": "CARD_DECLINED", "msg": "no funds"}
    assert pi.state.status == "completed"


@pytest.mark.parametrize("code, handler", [("FRAUD", "on_fraud"), ("OTHER", "on_any")])
def test_other_codes_reach_their_handler_or_the_catch_all(code: str, handler: str) -> None:
    pi = Instance("boundary_error.bpmn")
    pi.error("3", code)
    assert pi.path == [handler, "declined"]
    assert pi.variables == {}  # only on_declined names error variables


def test_an_uncaught_error_ends_the_path_and_so_the_instance() -> None:
    pi = Instance("simple.bpmn")
    pi.error("3", "NOBODY_CATCHES", "lost", {"seen": True})
    assert pi.path == []
    assert pi.effects.ended == "completed"
    assert pi.state.status == "completed"
    assert pi.variables == {"seen": True}


def test_an_uncaught_error_in_one_branch_leaves_the_other_running() -> None:
    pi = Instance("parallel_gateway.bpmn")
    pi.error("6", "NOBODY_CATCHES")
    assert pi.effects.ended is None
    assert pi.tasks == {"pack": "4"}
    pi.complete("4")
    assert pi.path == ["join"]  # the join waits for a token that never comes, as in Camunda
    assert pi.state.status == "active"


def test_an_error_on_a_task_is_caught_by_the_sub_process_boundary() -> None:
    pi = Instance("sub_process.bpmn")
    assert pi.path == ["start", "ship", "ship_start", "label"]
    assert pi.created == {"label": "5"}
    pi.error("5", "ANYTHING")
    assert pi.path == ["ship_failed", "failed"]
    assert pi.state.status == "completed"


def test_a_caught_error_cancels_everything_inside_the_sub_process() -> None:
    pi = Instance("sub_process_parallel.bpmn")
    assert pi.path == ["start", "rows", "rows_start", "rows_fork", "x", "y"]
    assert pi.created == {"x": "6", "y": "9"}
    assert [(t.id, t.element_id) for t in pi.effects.timers_scheduled] == [("8", "y_slow")]
    pi.error("6", "BAD_ROW")
    assert pi.effects.tasks_deleted == ("9",)
    assert pi.effects.timers_cancelled == ("8",)
    assert pi.path == ["bad_row", "cleanup"]
    assert pi.tasks == {"cleanup": "11"}
    assert pi.variables == {"code": "BAD_ROW"}
    assert [e.id for e in pi.state.executions] == ["pi", "1"]


def test_an_error_end_event_in_a_sub_process_is_caught_on_its_boundary() -> None:
    pi = Instance("error_end_event.bpmn")
    assert pi.path == ["start", "stock", "stock_start", "stock_end", "no_stock", "kill"]
    assert pi.effects.ended == "completed"  # a terminate end event completes the instance
    assert pi.state.status == "completed"


def test_error_event_definition_throws_instead_of_completing() -> None:
    pi = Instance("scoped_variables.bpmn", {"kind": "a", "limit": 60})
    assert pi.locals("work") == {"note": "a", "limit": 120}
    pi.complete("5", {"total": 1}, external_task={"errorMessage": "too much"})
    assert pi.path == ["stopped", "stopped_end"]
    assert pi.variables == {
        "kind": "a",
        "limit": 60,
        "total": 1,
        "why": "STOP",
        "detail": "too much",
    }


def test_error_event_definition_that_does_not_match_lets_the_task_complete() -> None:
    pi = Instance("scoped_variables.bpmn", {"kind": "a", "limit": 10})
    pi.complete("5")
    assert pi.path == ["sub_end", "end"]


def test_a_failing_error_event_expression_names_the_task() -> None:
    pi = Instance("scoped_variables.bpmn", {"kind": "a", "limit": 10})
    with pytest.raises(EvaluationError, match="error event definition of 'work'"):
        pi.complete("5", {"limit": "lots"}, {"limit": "lots"})
