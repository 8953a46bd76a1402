"""Registering handlers: decorators return the function, routers combine, parameters decide
what is fetched and what a handler receives, results become outcomes."""

from __future__ import annotations

import random
from typing import Any

import pytest

from redtask.worker import (
    Backoff,
    BpmnError,
    Complete,
    ExternalTask,
    RetryPolicy,
    Router,
    TaskFailure,
    Worker,
)
from redtask.worker.handler import Failed, outcome_of_error, outcome_of_result


def make_task(**variables: Any) -> ExternalTask:
    typed = {name: {"type": "Integer", "value": v} for name, v in variables.items()}
    return ExternalTask(id="t1", topic_name="topic", worker_id="w", typed_variables=typed)


def test_the_decorator_returns_the_function_unchanged_and_routers_combine() -> None:
    router = Router(lock_duration=5_000, retries=1)

    def charge(amount: int) -> dict[str, int]:
        return {"charged": amount}

    assert router.task("charge")(charge) is charge
    worker = Worker()
    worker.include_router(router)
    spec = worker.specs["charge"]
    assert spec.function is charge
    assert (spec.subscription.lock_duration, spec.retry.retries) == (5_000, 1)
    assert charge(3) == {"charged": 3}


def test_a_topic_cannot_have_two_handlers() -> None:
    worker, router = Worker(), Router()
    worker.task("a")(lambda: None)
    router.task("a")(lambda: None)
    with pytest.raises(ValueError, match="topic 'a' already has a handler"):
        worker.include_router(router)


def test_named_parameters_select_the_fetched_variables() -> None:
    worker = Worker()

    @worker.task("named")
    def named(a: int, b: int = 2) -> None: ...

    @worker.task("everything")
    def everything(a: int, **rest: Any) -> None: ...

    @worker.task("with_task")
    def with_task(task: ExternalTask) -> None: ...

    @worker.task("explicit", variables=["x"])
    def explicit(**rest: Any) -> None: ...

    selected = {topic: spec.subscription.variables for topic, spec in worker.specs.items()}
    assert selected == {
        "named": ("a", "b"),
        "everything": None,
        "with_task": None,
        "explicit": ("x",),
    }


def test_arguments_are_injected_by_name_with_defaults_and_the_rest_in_kwargs() -> None:
    worker = Worker()

    @worker.task("t")
    def handler(a: int, task: ExternalTask, b: int = 9, **rest: Any) -> None: ...

    task = make_task(a=1, c=3)
    assert worker.specs["t"].signature.arguments(task) == {"a": 1, "b": 9, "c": 3, "task": task}


def test_a_missing_required_variable_is_a_task_failure() -> None:
    worker = Worker()

    @worker.task("t")
    def handler(a: int) -> None: ...

    with pytest.raises(TaskFailure, match="task t1 has no variable 'a'"):
        worker.specs["t"].signature.arguments(make_task())


def test_results_and_exceptions_become_outcomes() -> None:
    assert outcome_of_result(None) == Complete()
    assert outcome_of_result({"x": 1}) == Complete(variables={"x": 1})
    both = Complete({"x": 1}, {"y": 2})
    assert outcome_of_result(both) is both
    assert outcome_of_result(42) == Failed(
        "handler returned int; expected a dict, Complete or None", None
    )
    error = BpmnError("CODE", "msg", {"v": 1})
    assert outcome_of_error(error) is error
    assert outcome_of_error(TaskFailure("no", "why", retries=0, retry_timeout_ms=5)) == Failed(
        "no", "why", 0, 5
    )
    try:
        raise KeyError("k")
    except KeyError as exc:
        failed = outcome_of_error(exc)
    assert isinstance(failed, Failed)
    assert failed.message == "KeyError: 'k'"
    assert failed.details is not None and failed.details.startswith("Traceback")
    assert (failed.retries, failed.retry_timeout_ms) == (None, None)


def test_retries_count_down_from_the_policy_and_back_off_exponentially_to_a_cap() -> None:
    policy = RetryPolicy(
        retries=3, backoff=Backoff(initial_ms=100, multiplier=3, max_ms=500, jitter=0)
    )
    assert [policy.next_retries(r) for r in (None, 3, 2, 1, 0)] == [3, 2, 1, 0, 0]
    assert [policy.timeout_ms(r) for r in (3, 2, 1, 0)] == [100, 300, 500, 0]


def test_jitter_spreads_the_delay_within_its_fraction() -> None:
    backoff = Backoff(initial_ms=1_000, jitter=0.2)
    rng = random.Random(7)
    delays = {backoff.delay_ms(0, rng) for _ in range(200)}
    assert min(delays) >= 800 and max(delays) <= 1_200
    assert len(delays) > 50


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"initial_ms": 10, "max_ms": 5}, "0 <= initial_ms <= max_ms"),
        ({"multiplier": 0.5}, "multiplier must be >= 1"),
        ({"jitter": 2}, "jitter must be between 0 and 1"),
    ],
)
def test_a_nonsensical_backoff_is_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(**options)


def test_an_isolated_handler_must_be_sync_and_lock_duration_positive() -> None:
    worker = Worker()
    with pytest.raises(ValueError, match="an isolated handler must be a plain function"):

        @worker.task("t", isolated=True)
        async def handler() -> None: ...

    with pytest.raises(ValueError, match="lock_duration must be a positive"):
        worker.task("u", lock_duration=0)
