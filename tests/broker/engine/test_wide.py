"""A step is linear in the number of tokens, and one step may not fork wider than the limit."""

from __future__ import annotations

import time

import pytest

from redtask.broker.engine import CounterIds, complete_task, start
from redtask.broker.engine.errors import StepTooLarge
from redtask.broker.errors import InvalidArgument
from tests.broker.engine.wide import wide_model

NOW = 1_700_000_000_000


@pytest.mark.parametrize("gateway", ["parallelGateway", "inclusiveGateway"])
def test_a_9000_branch_fork_and_join_runs_through_in_well_under_a_second(gateway):
    model = wide_model(9_000, gateway)

    began = time.perf_counter()
    state, effects = start(model, "pi", {}, None, None, NOW, CounterIds())
    took = time.perf_counter() - began

    assert effects.ended == "completed"
    assert effects.path == ("start", "fork", *["join"] * 9_000, "end")
    assert state.executions == ()
    assert took < 1.0


@pytest.mark.parametrize("gateway", ["parallelGateway", "inclusiveGateway"])
def test_completing_a_task_of_a_3000_task_fork_costs_milliseconds(gateway):
    model = wide_model(3_000, gateway, tasks=True)
    began = time.perf_counter()
    state, effects = start(model, "pi", {}, None, None, NOW, CounterIds())
    assert time.perf_counter() - began < 1.0
    assert len(effects.tasks_created) == 3_000
    steps = []
    for task in effects.tasks_created[:30]:
        began = time.perf_counter()
        state, _ = complete_task(model, state, task.id, {}, {}, NOW, CounterIds())
        steps.append(time.perf_counter() - began)

    assert len(state.executions) == 1 + 3_000  # the root, 30 tokens at the join, 2,970 tasks
    assert max(steps) < 0.1


@pytest.mark.parametrize("gateway", ["parallelGateway", "inclusiveGateway"])
def test_only_the_last_completion_of_a_wide_fork_passes_the_join(gateway):
    model = wide_model(300, gateway, tasks=True)
    state, effects = start(model, "pi", {}, None, None, NOW, CounterIds())
    ended = []
    for task in effects.tasks_created:
        state, done = complete_task(model, state, task.id, {}, {}, NOW, CounterIds())
        ended.append(done.ended)

    assert ended == [None] * 299 + ["completed"]
    assert done.path == ("join", "end")


def test_a_fork_wider_than_the_limit_is_refused_before_any_token_is_made():
    model = wide_model(10_000, tasks=True)  # start and fork already entered: 10,002 > 10,000

    with pytest.raises(StepTooLarge) as refused:
        start(model, "pi", {}, None, None, NOW, CounterIds())

    assert str(refused.value) == "More than 10000 elements entered in one step at 'fork'"
    assert isinstance(refused.value, InvalidArgument)  # answered 400, a client's bad input


def test_a_fork_just_within_the_limit_starts():
    model = wide_model(9_997)  # start, fork, 9,997 entries at the join and end: 10,000

    _, effects = start(model, "pi", {}, None, None, NOW, CounterIds())

    assert effects.ended == "completed"
