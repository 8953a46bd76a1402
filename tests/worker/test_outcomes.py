"""Each outcome of a handler, through both transports, against a real gateway and Redis:
a returned dict completes, BpmnError takes the boundary path, an exception fails with
retries and backoff until an incident."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from redtask.worker import Backoff, BpmnError, Complete, ExternalTask, Worker
from redtask.worker.transport.base import Transport
from tests.worker.helpers import Engine, eventually, running


@pytest.fixture
async def engine(api: str) -> AsyncIterator[Engine]:
    engine = Engine(api)
    yield engine
    await engine.aclose()


def make_worker(make_transport: Callable[[], Transport], **options: Any) -> Worker:
    return Worker(make_transport(), poll_timeout=2_000, grace=5, **options)


async def test_a_returned_dict_completes_the_task_with_those_variables(
    engine: Engine, topic: str, make_transport: Callable[[], Transport]
) -> None:
    key = await engine.deploy_process(topic)
    instance = await engine.start(key, {"amount": {"value": 42, "type": "Integer"}})
    worker = make_worker(make_transport)
    seen: list[Any] = []

    @worker.task(topic)
    def work(amount: int) -> dict[str, Any]:
        seen.append(amount)
        return {"doubled": amount * 2, "note": "ok", "items": [1, 2]}

    async with running(worker):
        await engine.reaches(instance, ["next"])

    assert seen == [42]
    variables = await engine.variables(instance)
    assert variables["doubled"] == {"type": "Integer", "value": 84, "valueInfo": {}}
    assert variables["note"] == {"type": "String", "value": "ok", "valueInfo": {}}
    assert variables["items"]["type"] == "Json"
    assert variables["items"]["value"] == "[1,2]"


async def test_complete_can_set_local_variables_and_the_task_object_is_injected(
    engine: Engine, topic: str, make_transport: Callable[[], Transport]
) -> None:
    key = await engine.deploy_process(topic)
    instance = await engine.start(key, {"x": {"value": "a", "type": "String"}})
    worker = make_worker(make_transport)
    seen: list[tuple[str, str | None, str | None, dict[str, Any]]] = []

    @worker.task(topic)
    async def work(task: ExternalTask) -> Complete:
        seen.append((task.topic_name, task.activity_id, task.process_instance_id, task.variables))
        return Complete(variables={"y": 1}, local_variables={"only_here": True})

    async with running(worker):
        await engine.reaches(instance, ["next"])

    assert seen == [(topic, "work", instance, {"x": "a"})]
    variables = await engine.variables(instance)
    assert sorted(variables) == ["x", "y"]  # the local variable ended with its task


async def test_bpmn_error_takes_the_boundary_event_with_its_variables(
    engine: Engine, topic: str, make_transport: Callable[[], Transport]
) -> None:
    key = await engine.deploy_process(topic, error_code="NO_STOCK")
    instance = await engine.start(key)
    worker = make_worker(make_transport)

    @worker.task(topic)
    def work() -> None:
        raise BpmnError("NO_STOCK", "sold out", {"reason": "sold out"})

    async with running(worker):
        await engine.reaches(instance, ["caught"])

    assert (await engine.variables(instance))["reason"]["value"] == "sold out"


async def test_a_failing_handler_is_retried_after_its_backoff_then_succeeds(
    engine: Engine, topic: str, make_transport: Callable[[], Transport]
) -> None:
    key = await engine.deploy_process(topic)
    instance = await engine.start(key)
    worker = make_worker(make_transport)
    attempts: list[tuple[float, int | None]] = []

    @worker.task(topic, retries=2, backoff=Backoff(initial_ms=400, multiplier=2, jitter=0))
    def work(task: ExternalTask) -> None:
        attempts.append((time.monotonic(), task.retries))
        if len(attempts) < 3:
            raise RuntimeError(f"attempt {len(attempts)} failed")

    async with running(worker):
        await engine.reaches(instance, ["next"])

    # retries null on the first attempt, then 2 and 1 as reported by each failure
    assert [r for _, r in attempts] == [None, 2, 1]
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.4 and gaps[1] >= 0.8, gaps  # exponential: 400 ms, then 800 ms
    assert await engine.incidents(instance) == []


async def test_retries_exhausted_raise_an_incident_with_the_error_and_traceback(
    engine: Engine, topic: str, make_transport: Callable[[], Transport]
) -> None:
    key = await engine.deploy_process(topic)
    instance = await engine.start(key)
    worker = make_worker(make_transport)
    calls: list[int] = []

    @worker.task(topic, retries=1, backoff=Backoff(initial_ms=100, jitter=0))
    def work() -> None:
        calls.append(1)
        raise ValueError("card expired")

    async with running(worker):
        incidents = await eventually(lambda: engine.incidents(instance))

    assert len(calls) == 2
    [incident] = incidents
    assert incident["incidentType"] == "failedExternalTask"
    assert incident["incidentMessage"] == "ValueError: card expired"
    task = await engine.task_of(instance, "work")
    assert task["retries"] == 0
    assert incident["configuration"] == task["id"]
    details = await engine.http.get(f"/external-task/{task['id']}/errorDetails")
    assert "Traceback (most recent call last)" in details.text
    assert 'raise ValueError("card expired")' in details.text


async def test_a_missing_variable_without_default_fails_the_task_with_a_clear_message(
    engine: Engine, topic: str, make_transport: Callable[[], Transport]
) -> None:
    key = await engine.deploy_process(topic)
    instance = await engine.start(key)
    worker = make_worker(make_transport)

    @worker.task(topic, retries=0)
    def work(order_id: str, note: str = "none") -> None:
        raise AssertionError("not called")

    async with running(worker):
        [incident] = await eventually(lambda: engine.incidents(instance))

    task = await engine.task_of(instance, "work")
    assert incident["incidentMessage"] == (
        f"task {task['id']} has no variable 'order_id' (handler parameter)"
    )


def cpu_bound(n: int) -> dict[str, int]:
    """At module level: an isolated handler is pickled by name into a worker process."""
    return {"pid": os.getpid(), "total": sum(range(n))}


async def test_an_isolated_handler_runs_in_another_process(
    engine: Engine, topic: str, make_transport: Callable[[], Transport]
) -> None:
    key = await engine.deploy_process(topic)
    instance = await engine.start(key, {"n": {"value": 1000, "type": "Integer"}})
    worker = make_worker(make_transport, processes=1)
    worker.task(topic, isolated=True)(cpu_bound)

    async with running(worker):
        await engine.reaches(instance, ["next"], timeout=30)

    variables = await engine.variables(instance)
    assert variables["total"]["value"] == 499_500
    assert variables["pid"]["value"] != os.getpid()
