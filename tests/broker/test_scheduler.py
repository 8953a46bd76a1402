"""The scheduler: bounded sweeps, wake-ups, heartbeats, and several schedulers at once."""

from __future__ import annotations

import asyncio

from redtask.broker.connection import client_for
from redtask.broker.model import NewTask, TopicRequest, TopicStats
from redtask.broker.scheduler import Scheduler
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from tests.broker.scripts.helpers import wake_messages
from tests.conftest import FakeClock


async def _lock_all(store: Store, topic: str, n: int, lock_ms: int) -> list[str]:
    await store.publish_many([NewTask(topic) for _ in range(n)])
    got = []
    while len(got) < n:
        batch = await store.fetch_and_lock("w1", 100, [TopicRequest(topic, lock_ms)])
        assert batch
        got += [t.id for t in batch]
    return got


async def test_a_pass_moves_expired_leases_back_and_beats(store: Store, clock: FakeClock) -> None:
    ids = await _lock_all(store, "jobs", 5, 1_000)
    scheduler = Scheduler(store, "s1")
    assert await scheduler.run_once() is False
    assert (await store.topic_stats())[0] == TopicStats("jobs", 0, 5, 0, 0)
    clock.advance(1_001)
    assert await scheduler.run_once() is False
    assert scheduler.moved_total == 5
    assert (await store.topic_stats())[0] == TopicStats("jobs", 5, 0, 0, 0)
    # the expired holder is still recorded (Camunda's late-complete rule)
    assert {(await store.get(i)).worker_id for i in ids} == {"w1"}
    await store.heartbeat(scheduler.id, scheduler.heartbeat_ttl_ms)
    assert await store.last_heartbeat("s1") == clock.now
    assert await store.last_heartbeat("other") is None


async def test_a_pass_is_bounded_and_reports_work_left(
    redis_url: str, namespace: str, clock: FakeClock
) -> None:
    settings = Settings(namespace=namespace, scheduler_batch=10)
    store = Store(client_for(redis_url), settings, clock)
    try:
        await _lock_all(store, "jobs", 25, 1_000)
        clock.advance(5_000)
        scheduler = Scheduler(store, "s1")
        assert await scheduler.run_once() is True
        assert scheduler.moved_total == 10
        assert await scheduler.run_once() is True
        assert await scheduler.run_once() is False
        assert scheduler.moved_total == 25
    finally:
        await store.redis.delete(*[k async for k in store.redis.scan_iter(f"*{namespace}*")])
        await store.close()


async def test_run_stops_when_asked(store: Store) -> None:
    scheduler = Scheduler(store, "s-run")
    stop = asyncio.Event()
    runner = asyncio.create_task(scheduler.run(stop))
    await asyncio.sleep(0.2)
    assert await store.last_heartbeat("s-run") is not None
    stop.set()
    await asyncio.wait_for(runner, 2)


async def test_several_schedulers_at_once_move_each_task_exactly_once(
    redis_url: str, settings: Settings, clock: FakeClock
) -> None:
    stores = [Store(client_for(redis_url), settings, clock) for _ in range(4)]
    try:
        ids = await _lock_all(stores[0], "jobs", 2_000, 1_000)
        await stores[0].publish_many([NewTask("jobs") for _ in range(50)])
        failed = ids[:300]
        for task_id in failed:  # some wait out a retry timeout instead of a lease
            await stores[0].handle_failure(task_id, "w1", "boom", None, 3, 500)
        clock.advance(1_001)
        schedulers = [Scheduler(s, f"s{n}") for n, s in enumerate(stores)]

        async def drain(s: Scheduler) -> None:
            while await s.run_once():
                pass

        await asyncio.gather(*(drain(s) for s in schedulers))
        assert sum(s.moved_total for s in schedulers) == 2_000
        assert await stores[0].topic_stats() == [TopicStats("jobs", 2_050, 0, 0, 0)]
        fetched: list[str] = []
        while batch := await stores[1].fetch_and_lock("w2", 500, [TopicRequest("jobs", 60_000)]):
            fetched += [t.id for t in batch]
        assert len(fetched) == len(set(fetched)) == 2_050
        assert set(ids) <= set(fetched)
    finally:
        for s in stores:
            await s.close()


async def test_the_sweep_publishes_a_wake_up_for_each_topic_it_refills(
    store: Store, clock: FakeClock
) -> None:
    await _lock_all(store, "a", 2, 1_000)
    await _lock_all(store, "b", 1, 5_000)
    clock.advance(1_001)
    swept = []

    async def sweep() -> None:
        swept.append(await store.sweep())

    woken = await wake_messages(store, sweep)
    assert swept == [(2, False)]
    # one wake-up per partition that refilled the topic; "b" is still locked
    assert set(woken) == {"a"}
    assert 1 <= len(woken) <= store.keys.partitions
