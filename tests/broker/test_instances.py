"""Process instances on a real Redis: engine steps committed atomically with a version check."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from redtask.broker.bpmn import ProcessModel, parse_bpmn
from redtask.broker.connection import client_for
from redtask.broker.errors import WorkerMismatch
from redtask.broker.instances import MessageNotCorrelated
from redtask.broker.model import TopicRequest, TopicStats
from redtask.broker.scheduler import Scheduler
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from tests.conftest import FakeClock

FILES = Path(__file__).parent / "bpmn" / "files"


def model(name: str) -> ProcessModel:
    [parsed] = parse_bpmn((FILES / f"{name}.bpmn").read_bytes(), f"{name}.bpmn")
    return parsed


def serve_models(store: Store, *models: ProcessModel) -> None:
    by_id = {f"{m.key}:1:test": m for m in models}

    async def lookup(definition_id: str) -> ProcessModel:
        return by_id[definition_id]

    store.models = lookup


async def test_a_process_runs_start_task_end_through_the_store(store: Store) -> None:
    order = model("simple")
    serve_models(store, order)
    state, effects = await store.start_instance(
        order, "order:1:test", {"amount": {"type": "Integer", "value": 42}}, "B-1"
    )
    [created] = effects.tasks_created
    assert store.keys.partition_of(created.id) == store.keys.partition_of(state.instance_id)
    [task] = await store.fetch_and_lock("w", 5, [TopicRequest("charge-card", 10_000)])
    assert (task.id, task.process_instance_id, task.process_definition_id) == (
        created.id,
        state.instance_id,
        "order:1:test",
    )
    assert (task.process_definition_key, task.activity_id, task.business_key) == (
        "order",
        "charge",
        "B-1",
    )
    assert task.execution_id == created.execution_id
    assert task.variables == {"amount": {"type": "Integer", "value": 42, "valueInfo": {}}}

    with pytest.raises(WorkerMismatch):
        await store.complete(task.id, "someone-else")
    assert (await store.instance_state(state.instance_id))[1] == 1

    await store.complete(task.id, "w", {"charged": {"type": "Boolean", "value": True}})
    ended, version = await store.instance_state(state.instance_id)
    assert (ended.status, version) == ("completed", 2)
    assert ended.variables["charged"] == {"type": "Boolean", "value": True, "valueInfo": {}}
    assert await store.topic_stats() == []


async def test_a_caught_bpmn_error_continues_on_the_boundary_path(store: Store) -> None:
    payment = model("boundary_error")
    serve_models(store, payment)
    state, _ = await store.start_instance(payment, "payment:1:test")
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("charge", 10_000)])
    await store.handle_bpmn_error(task.id, "w", "FRAUD", "stolen card")
    ended, _ = await store.instance_state(state.instance_id)
    assert ended.status == "completed"
    assert await store.topic_stats() == []
    [entry] = await store.finished()
    assert (entry["outcome"], entry["code"], entry["msg"]) == ("bpmn_error", "FRAUD", "stolen card")


async def test_concurrent_completes_of_parallel_branches_never_lose_the_join(
    redis_url: str, settings: Settings
) -> None:
    """Two clients complete the two branches of many instances at the same time; the
    version check makes one of each pair recompute, and every instance completes once."""
    fulfil = model("parallel_gateway")
    stores = [Store(client_for(redis_url), settings) for _ in range(2)]
    for s in stores:
        serve_models(s, fulfil)
    try:
        instances = [
            (await stores[0].start_instance(fulfil, "fulfil:1:test"))[0] for _ in range(30)
        ]
        packs = await stores[0].fetch_and_lock("w", 100, [TopicRequest("pack", 60_000)])
        bills = await stores[1].fetch_and_lock("w", 100, [TopicRequest("bill", 60_000)])
        assert len(packs) == len(bills) == 30
        by_instance = {t.process_instance_id: t for t in packs}
        pairs = [(by_instance[b.process_instance_id], b) for b in bills]
        await asyncio.gather(
            *(stores[0].complete(p.id, "w") for p, _ in pairs),
            *(stores[1].complete(b.id, "w") for _, b in pairs),
        )
        for instance in instances:
            state, version = await stores[0].instance_state(instance.instance_id)
            assert (state.status, version) == ("completed", 3)
        assert await stores[0].topic_stats() == []
    finally:
        for s in stores:
            await s.close()


async def test_an_incident_on_a_process_task_names_its_instance(store: Store) -> None:
    order = model("simple")
    serve_models(store, order)
    state, _ = await store.start_instance(order, "order:1:test")
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("charge-card", 10_000)])
    await store.handle_failure(task.id, "w", "boom", None, 0, 0)
    [incident] = await store.incidents()
    assert (incident.process_instance_id, incident.activity_id, incident.configuration) == (
        state.instance_id,
        "charge",
        task.id,
    )
    assert await store.topic_stats() == [TopicStats("charge-card", 0, 0, 0, 1)]


async def test_the_scheduler_fires_due_timers_once_even_with_two_schedulers(
    redis_url: str, settings: Settings, clock: FakeClock
) -> None:
    waiting = model("timer_catch")
    stores = [Store(client_for(redis_url), settings, clock) for _ in range(2)]
    for s in stores:
        serve_models(s, waiting)
    try:
        state, effects = await stores[0].start_instance(waiting, "waiting:1:test")
        [timer] = effects.timers_scheduled
        assert timer.due_ms == clock.now + (24 + 2) * 3600 * 1000
        schedulers = [Scheduler(s, f"s{n}") for n, s in enumerate(stores)]
        await asyncio.gather(*(s.run_once() for s in schedulers))
        assert (await stores[0].instance_state(state.instance_id))[1] == 1  # not due yet

        clock.advance(timer.due_ms - clock.now)
        await asyncio.gather(*(s.run_once() for s in schedulers))
        after, version = await stores[0].instance_state(state.instance_id)
        assert version == 2  # fired exactly once
        [waiting_on] = [e for e in after.executions if e.wait is not None]
        assert waiting_on.element_id == "until"
        [next_timer] = after.timers
        all_due = []
        for p in range(stores[0].keys.partitions):
            all_due += await stores[0].redis.zrange(stores[0].keys.timers(p), 0, -1)
        assert all_due == [f"{state.instance_id}|{next_timer.id}"]
    finally:
        for s in stores:
            await s.close()


async def test_messages_are_correlated_by_name_and_business_key(store: Store) -> None:
    flow = model("messages")
    serve_models(store, flow)
    first, _ = await store.start_instance(flow, "correlate:1:test", None, "order-1")
    second, _ = await store.start_instance(flow, "correlate:1:test", None, "order-2")

    with pytest.raises(MessageNotCorrelated, match="2 executions match"):
        await store.correlate_message("PaymentReceived")
    with pytest.raises(MessageNotCorrelated, match="No process definition or execution"):
        await store.correlate_message("Shipped", "order-1")

    [delivered] = await store.correlate_message(
        "PaymentReceived", "order-1", {"paid": {"type": "Boolean", "value": True}}
    )
    instance_id, execution = delivered.instance_id, delivered.execution_id
    state, version = await store.instance_state(first.instance_id)
    assert version == 2 and state.variables["paid"]["value"] is True
    assert [e.wait.ref for e in state.executions if e.wait] == ["Shipped"]
    assert instance_id == first.instance_id
    assert execution in {
        e.id for e in (await store.instance_state(first.instance_id))[0].executions
    }

    await store.correlate_message("Shipped", "order-1")
    assert (await store.instance_state(first.instance_id))[0].status == "completed"
    # the other instance still waits, and is the only one left for the first message
    await store.correlate_message("PaymentReceived")
    assert (await store.instance_state(second.instance_id))[1] == 2
    assert await store.correlate_message("Shipped", all_matches=True) != []
    assert (await store.instance_state(second.instance_id))[0].status == "completed"
