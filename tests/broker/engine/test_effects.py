"""Effects are net within a step; work per step is bounded; correlation needs one match."""

from __future__ import annotations

import dataclasses

import pytest

from redtask.broker.engine import (
    CounterIds,
    EngineError,
    Execution,
    NoMatch,
    Wait,
    correlate_message,
)
from tests.broker.engine.driver import NOW, Instance, as_json, load, typed_map


def test_what_is_created_and_cancelled_in_one_step_appears_nowhere() -> None:
    pi = Instance("instant.bpmn", {"stop": True})
    assert pi.path == ["start", "fork", "t", "go", "decide", "kill"]
    effects = pi.effects
    assert effects.tasks_created == () and effects.tasks_deleted == ()
    assert effects.timers_scheduled == () and effects.timers_cancelled == ()
    assert effects.subscriptions_opened == () and effects.subscriptions_closed == ()
    assert effects.ended == "completed"


def test_a_cycle_without_wait_state_is_stopped() -> None:
    with pytest.raises(EngineError, match="More than 10000 elements entered in one step"):
        Instance("instant.bpmn", {"stop": False})


def test_a_message_awaited_twice_is_ambiguous() -> None:
    pi = Instance("messages.bpmn")
    twin = Execution("x", "pi", None, "paid", wait=Wait("message", "PaymentReceived"))
    state = dataclasses.replace(pi.state, executions=(*pi.state.executions, twin))
    with pytest.raises(NoMatch, match="'PaymentReceived': 2 executions match") as e:
        correlate_message(load("messages.bpmn"), state, "PaymentReceived", {}, NOW, CounterIds())
    assert e.value.matches == 2


def test_bpmn_error_variables_of_an_output_mapped_task_stay_in_its_scope() -> None:
    customer = as_json({"id": 42, "name": "Ann"})
    pi = Instance("input_output.bpmn", {"region": "eu", "priority": 7, "customer": customer})
    pi.error("3", "UNCAUGHT", variables=typed_map({"leak": 1}))
    assert pi.state.status == "completed"
    assert "leak" not in pi.variables
