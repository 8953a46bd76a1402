"""The dashboard's records of recent activity: completions per topic and minute (written by
complete.lua and by advance.lua for a process task, never for a BPMN error or a failure) and
the registry of workers that fetched lately, bounded in age, count and id length."""

from __future__ import annotations

from redtask.broker.activity import WORKER_ID_MAX, WORKERS_MAX, LockedTask
from redtask.broker.bpmn import parse_bpmn
from redtask.broker.model import NewTask, TopicRequest
from redtask.broker.store import Store
from redtask.broker.task_outcomes import Completion
from tests.conftest import START_MS, FakeClock
from tests.gateway.helpers import one_task_process


async def complete_one(store: Store, topic: str) -> None:
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest(topic, 10_000)])
    await store.complete(task.id, "w")


async def test_completions_are_counted_per_topic_and_minute(store: Store, clock: FakeClock) -> None:
    clock.now = START_MS - START_MS % 60_000 + 5_000  # 5 s into a minute
    await store.publish_many([NewTask("a") for _ in range(6)] + [NewTask("b") for _ in range(2)])
    for _ in range(3):
        await complete_one(store, "a")
    clock.advance(60_000)
    await complete_one(store, "a")
    await complete_one(store, "b")
    tasks = await store.fetch_and_lock("w", 2, [TopicRequest("a", 10_000)])
    await store.complete_many([])  # nothing: no count
    await store.complete_many([Completion(t.id, "w") for t in tasks])
    clock.advance(2 * 60_000)

    assert await store.completions(4) == {"a": [0, 0, 3, 3], "b": [0, 0, 1, 0]}
    assert await store.completions(2) == {}


async def test_a_bpmn_error_or_failure_is_not_a_completion(store: Store) -> None:
    ids = await store.publish_many([NewTask("a"), NewTask("a")])
    for task_id in ids:
        await store.lock(task_id, "w", 10_000)
    await store.handle_bpmn_error(ids[0], "w", "E")
    await store.handle_failure(ids[1], "w", "boom", None, 0, 0)

    assert await store.completions(5) == {}


async def test_a_completed_process_task_is_counted(store: Store) -> None:
    [model] = parse_bpmn(one_task_process("proc", "pt", 0), "proc.bpmn")

    async def lookup(definition_id: str) -> object:
        return model

    store.models = lookup  # type: ignore[assignment]
    await store.start_instance(model, "proc:1:test")
    await store.start_instance(model, "proc:1:test")
    for task in await store.fetch_and_lock("w", 2, [TopicRequest("pt", 10_000)]):
        await store.complete(task.id, "w")

    assert await store.completions(1) == {"pt": [2]}


async def test_the_per_minute_counters_expire_on_their_own(store: Store) -> None:
    await store.publish(NewTask("a"))
    await complete_one(store, "a")

    minute = store.clock() // 60_000
    ttls = [
        await store.redis.pttl(store.keys.completions(p, minute))
        for p in range(store.keys.partitions)
    ]
    written = [t for t in ttls if t != -2]  # the task's partition only
    assert len(written) == 1 and 15 * 60_000 < written[0] <= 16 * 60_000


async def test_workers_that_fetched_are_seen_with_their_last_fetch(
    store: Store, clock: FakeClock
) -> None:
    await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])
    clock.advance(1000)
    await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)])
    clock.advance(1000)
    await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])

    assert await store.activity.workers_seen() == {"w1": START_MS + 2000, "w2": START_MS + 1000}


async def test_a_worker_is_forgotten_fifteen_minutes_after_its_last_fetch(
    store: Store, clock: FakeClock
) -> None:
    await store.fetch_and_lock("old", 1, [TopicRequest("t", 1000)])
    clock.advance(15 * 60_000)
    await store.fetch_and_lock("new", 1, [TopicRequest("t", 1000)])
    assert set(await store.activity.workers_seen()) == {"old", "new"}
    clock.advance(1)
    await store.fetch_and_lock("new", 1, [TopicRequest("t", 1000)])
    assert set(await store.activity.workers_seen()) == {"new"}  # "old" is stale: skipped
    await store.fetch_and_lock("newer", 1, [TopicRequest("t", 1000)])  # a new id trims

    assert set(await store.activity.workers_seen()) == {"new", "newer"}
    for p in range(store.keys.partitions):
        assert "old" not in await store.redis.zrange(store.keys.workers(p), 0, -1)


async def test_hostile_worker_ids_cannot_grow_the_registry(store: Store, clock: FakeClock) -> None:
    for n in range(WORKERS_MAX + 50):
        await store.fetch_and_lock(f"w{n:05}", 1, [TopicRequest("t", 1000)])
        clock.advance(1)
    await store.fetch_and_lock("x" * (WORKER_ID_MAX + 1), 1, [TopicRequest("t", 1000)])
    await store.fetch_and_lock("y" * WORKER_ID_MAX, 1, [TopicRequest("t", 1000)])

    seen = await store.activity.workers_seen()
    sizes = [await store.redis.zcard(store.keys.workers(p)) for p in range(store.keys.partitions)]
    assert max(sizes) == WORKERS_MAX
    assert "x" * (WORKER_ID_MAX + 1) not in seen and "y" * WORKER_ID_MAX in seen
    assert "w00000" not in seen and f"w{WORKERS_MAX + 49:05}" in seen


async def test_workers_list_the_tasks_each_holds(store: Store, clock: FakeClock) -> None:
    ids = await store.publish_many([NewTask("a"), NewTask("b"), NewTask("a")])
    await store.lock(ids[0], "w1", 5000)
    await store.lock(ids[1], "w1", 1000)
    await store.lock(ids[2], "w2", 9000)
    await store.fetch_and_lock("w3", 1, [TopicRequest("none", 1000)])

    workers, more = await store.workers()

    assert not more
    assert [(w.worker_id, w.last_seen_ms, w.locked) for w in workers] == [
        ("w1", None, 2),
        ("w2", None, 1),
        ("w3", START_MS, 0),
    ]
    assert workers[0].tasks == (
        LockedTask(ids[1], "b", "w1", START_MS + 1000),
        LockedTask(ids[0], "a", "w1", START_MS + 5000),
    )


async def test_the_locked_tasks_read_stops_at_its_limit_and_says_so(store: Store) -> None:
    ids = await store.publish_many([NewTask(t) for t in ("a", "b", "c", "a")])
    for n, task_id in enumerate(ids):
        await store.lock(task_id, f"w{n}", 1000 * (n + 1))

    first_two, more = await store.activity.locked_tasks(limit=2)
    every, none_left = await store.activity.locked_tasks(limit=4)

    assert [t.id for t in first_two] == ids[:2] and more
    assert [t.id for t in every] == ids and not none_left
    assert await store.activity.locked_tasks(limit=0) == ([], True)
