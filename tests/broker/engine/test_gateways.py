"""Exclusive, parallel and inclusive gateways; conditional flows leaving an activity."""

from __future__ import annotations

import pytest

from redtask.broker.engine import CounterIds, EvaluationError, NoOutgoingFlow, start
from tests.broker.engine.driver import NOW, Instance, as_json, load, typed_map


@pytest.mark.parametrize(
    "variables, route",
    [
        ({"amount": 5000}, ["start", "decide", "review"]),
        ({"amount": 50, "customer": as_json({"tier": "vip"})}, ["start", "decide", "review"]),
        ({"amount": 5, "customer": as_json({"tier": "vip"})}, ["start", "decide", "end"]),
    ],
)
def test_exclusive_gateway_takes_the_first_true_flow_else_the_default(
    variables: dict[str, object], route: list[str]
) -> None:
    pi = Instance("exclusive_gateway.bpmn", variables)
    assert pi.path == route


def test_exclusive_gateway_without_match_or_default_fails_naming_the_gateway() -> None:
    model = load("exclusive_no_default.bpmn")
    with pytest.raises(NoOutgoingFlow, match="element with id 'decide' could be selected") as e:
        start(model, "pi", typed_map({"ok": False}), None, None, NOW, CounterIds())
    assert e.value.element_id == "decide"
    assert Instance("exclusive_no_default.bpmn", {"ok": True}).state.status == "completed"


def test_a_failing_condition_names_the_flow_and_gateway() -> None:
    model = load("exclusive_gateway.bpmn")
    with pytest.raises(EvaluationError, match="condition of flow 'f_vip' of 'decide'"):
        start(model, "pi", typed_map({"amount": 5}), None, None, NOW, CounterIds())


@pytest.mark.parametrize("first, second", [("pack", "bill"), ("bill", "pack")])
def test_parallel_fork_and_join_in_both_orders(first: str, second: str) -> None:
    pi = Instance("parallel_gateway.bpmn")
    assert pi.path == ["start", "fork", "pack", "bill"]  # the ${false} condition is ignored
    assert pi.created == {"pack": "4", "bill": "6"}
    pi.complete(pi.tasks[first])
    assert pi.path == ["join"]
    assert pi.effects.ended is None
    assert pi.tasks == {second: {"pack": "4", "bill": "6"}[second]}
    [waiting] = [e for e in pi.state.executions if e.element_id == "join"]
    assert waiting.wait is not None and waiting.wait.kind == "join"
    pi.complete(pi.tasks[second])
    assert pi.path == ["join", "end"]
    assert pi.state.status == "completed"


@pytest.mark.parametrize("first, second", [("mail", "sms"), ("sms", "mail")])
def test_inclusive_fork_and_join_wait_for_every_activated_branch(first: str, second: str) -> None:
    pi = Instance("inclusive_gateway.bpmn", {"email": "a@b.c", "phone": "+1"})
    assert pi.path == ["start", "channels", "mail", "sms"]
    pi.complete(pi.tasks[first])
    assert pi.path == ["merge"]
    assert list(pi.tasks) == [second]
    pi.complete(pi.tasks[second])
    assert pi.path == ["merge", "end"]
    assert pi.state.status == "completed"


def test_inclusive_join_with_one_activated_branch_fires_at_once() -> None:
    pi = Instance("inclusive_gateway.bpmn", {"email": "a@b.c", "phone": None})
    assert pi.path == ["start", "channels", "mail"]
    pi.complete(pi.tasks["mail"])
    assert pi.path == ["merge", "end"]


def test_inclusive_fork_takes_the_default_when_nothing_holds() -> None:
    pi = Instance("inclusive_gateway.bpmn", {"email": None, "phone": None})
    assert pi.path == ["start", "channels", "letter"]
    pi.complete(pi.tasks["letter"])
    assert pi.path == ["merge", "end"]


def test_inclusive_join_fires_when_the_other_branch_escapes_after_arrival() -> None:
    pi = Instance("inclusive_escape.bpmn", {"doA": True, "doB": True})
    assert pi.created == {"a": "4", "b": "6"}
    pi.complete("4")
    assert pi.path == ["merge"]  # b can still reach the join
    pi.error("6", "BROKEN")
    assert pi.path == ["b_failed", "gave_up", "done"]
    assert pi.created == {"done": "8"}


def test_inclusive_join_fires_when_the_other_branch_escaped_before() -> None:
    pi = Instance("inclusive_escape.bpmn", {"doA": True, "doB": True})
    pi.error("6", "BROKEN")
    assert pi.path == ["b_failed", "gave_up"]
    assert pi.tasks == {"a": "4"}
    pi.complete("4")
    assert pi.path == ["merge", "done"]


def test_every_true_flow_leaving_an_activity_is_taken() -> None:
    pi = Instance("conditional_flows.bpmn", {"amount": 500})
    pi.complete("3")
    assert pi.path == ["log", "audit"]
    assert pi.created == {"log": "6", "audit": "8"}
    pi.complete("6")
    assert pi.path == ["end"]
    assert pi.state.status == "active"
    pi.complete("8")
    assert pi.path == ["end"]
    assert pi.state.status == "completed"


def test_a_flow_without_condition_is_always_taken() -> None:
    pi = Instance("conditional_flows.bpmn", {"amount": 50})
    pi.complete("3", {"amount": 200})  # conditions see the variables just written
    assert pi.path == ["log", "audit"]
    pi = Instance("conditional_flows.bpmn", {"amount": 50})
    pi.complete("3")
    assert pi.path == ["log"]
