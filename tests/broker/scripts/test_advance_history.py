"""advance.lua writes a step's history records (activity instances, external-task log) in
the same script as the step, after every check: a step refused for a version conflict or a
task locked by another worker leaves no record behind."""

from __future__ import annotations

import pytest

from redtask.broker import engine
from redtask.broker.engine import CounterIds
from redtask.broker.errors import WorkerMismatch
from redtask.broker.model import TopicRequest
from redtask.broker.store import Store
from tests.broker.test_instances import model, serve_models
from tests.conftest import FakeClock

E_CONFLICT = -9


async def _records(store: Store, instance_id: str) -> tuple[dict[str, str], dict[str, str]]:
    activities = await store.redis.hgetall(store.keys.activities(instance_id))
    log = await store.redis.hgetall(store.keys.task_log(instance_id))
    return activities, log


async def test_a_step_refused_for_a_version_conflict_records_nothing(
    store: Store, clock: FakeClock
) -> None:
    flow = model("simple")
    serve_models(store, flow)
    state, _ = await store.start_instance(flow, "order:1:test")
    before = await _records(store, state.instance_id)
    assert len(before[0]) == 2  # the start event and the task (no variables)
    [task] = [e.wait.ref for e in state.executions if e.wait is not None]
    step_state, effects = engine.complete_task(flow, state, task, {}, {}, clock(), CounterIds("x"))

    reply = await store.repository.commit(step_state, effects, expected=7, before=state)

    assert int(reply[0]) == E_CONFLICT
    assert await _records(store, state.instance_id) == before


async def test_a_completion_by_another_worker_records_nothing(
    store: Store, clock: FakeClock
) -> None:
    flow = model("simple")
    serve_models(store, flow)
    state, _ = await store.start_instance(flow, "order:1:test")
    [task] = await store.fetch_and_lock("w1", 1, [TopicRequest("charge-card", 60_000)])
    before = await _records(store, state.instance_id)

    with pytest.raises(WorkerMismatch):
        await store.complete(task.id, "w2")

    assert await _records(store, state.instance_id) == before
    await store.complete(task.id, "w1")
    activities, log = await _records(store, state.instance_id)
    assert len(log) == len(before[1]) + 1  # the success entry
    assert len(activities) > len(before[0])
