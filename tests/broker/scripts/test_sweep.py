"""sweep.lua (the scheduler's pass), driven through Store.sweep."""

from __future__ import annotations

from dataclasses import replace

from redtask.broker.model import NewTask, TaskState, TopicRequest, TopicStats
from redtask.broker.store import Store
from tests.broker.scripts.helpers import ids_in_partition, wake_messages


async def lock_all(store: Store, topic: str, duration: int = 1000) -> None:
    await store.fetch_and_lock("w1", 100, [TopicRequest(topic, duration)])


async def test_expired_leases_move_back_keeping_worker_token_and_expiry(store, clock):
    ids = await store.publish_many([NewTask("t"), NewTask("t")])
    await lock_all(store, "t")
    before = [await store.get(i) for i in ids]
    clock.advance(1000)

    assert await store.sweep() == (2, False)

    assert [await store.get(i) for i in ids] == [
        replace(task, state=TaskState.AVAILABLE) for task in before
    ]
    assert await store.topic_stats() == [TopicStats("t", 2, 0, 0, 0)]


async def test_leases_that_are_not_due_stay_locked(store, clock):
    task_id = await store.publish(NewTask("t"))
    await lock_all(store, "t")
    before = await store.get(task_id)
    clock.advance(999)

    assert await store.sweep() == (0, False)

    assert await store.get(task_id) == before
    assert await store.topic_stats() == [TopicStats("t", 0, 1, 0, 0)]


async def test_due_retries_move_back_and_early_ones_wait(store, clock):
    soon, later = await store.publish_many([NewTask("t"), NewTask("t")])
    await lock_all(store, "t")
    await store.handle_failure(soon, "w1", "boom", None, 2, 500)
    await store.handle_failure(later, "w1", "boom", None, 2, 800)
    clock.advance(500)

    assert await store.sweep() == (1, False)

    assert (await store.get(soon)).state == TaskState.AVAILABLE
    assert (await store.get(later)).state == TaskState.RETRY
    assert await store.topic_stats() == [TopicStats("t", 1, 0, 1, 0)]
    clock.advance(300)
    assert await store.sweep() == (1, False)
    assert await store.topic_stats() == [TopicStats("t", 2, 0, 0, 0)]


async def test_a_second_sweep_moves_nothing(store, clock):
    await store.publish_many([NewTask("t"), NewTask("u")])
    await lock_all(store, "t")
    await lock_all(store, "u")
    clock.advance(1000)
    assert await store.sweep() == (2, False)
    stats = await store.topic_stats()

    assert await store.sweep() == (0, False)
    assert await store.topic_stats() == stats


async def test_swept_tasks_are_fetched_by_the_next_worker(store, clock):
    task_id = await store.publish(NewTask("t"))
    await lock_all(store, "t")
    clock.advance(1000)
    await store.sweep()

    [task] = await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)])

    assert (task.id, task.worker_id, task.lock_token) == (task_id, "w2", 2)


async def test_sweep_wakes_every_topic_that_got_tasks_back(store, clock):
    ids = ids_in_partition(store, 4)
    await store.publish_many(
        [NewTask(topic, id=i) for i, topic in zip(ids, ["a", "a", "b", "c"], strict=True)]
    )
    await store.fetch_and_lock(
        "w1", 10, [TopicRequest("a", 1000), TopicRequest("b", 1000), TopicRequest("c", 5000)]
    )
    clock.advance(1000)

    woken = await wake_messages(store, store.sweep)

    assert sorted(woken) == ["a", "b"]
    assert await store.topic_stats() == [
        TopicStats("a", 2, 0, 0, 0),
        TopicStats("b", 1, 0, 0, 0),
        TopicStats("c", 0, 1, 0, 0),
    ]


async def test_a_sweep_that_moves_nothing_wakes_nobody(store, clock):
    await store.publish(NewTask("t"))
    await lock_all(store, "t")
    clock.advance(500)

    assert await wake_messages(store, store.sweep) == []


async def test_a_sweep_stops_at_its_budget_and_says_there_is_more(store, clock):
    ids = ids_in_partition(store, 3)
    await store.publish_many([NewTask("t", id=i) for i in ids])
    await lock_all(store, "t")
    clock.advance(1000)

    assert await store.sweep(budget=2) == (2, True)
    assert await store.topic_stats() == [TopicStats("t", 2, 1, 0, 0)]

    assert await store.sweep() == (1, False)
    assert await store.topic_stats() == [TopicStats("t", 3, 0, 0, 0)]


async def test_sweep_leaves_incidents_alone(store, clock):
    task_id = await store.publish(NewTask("t"))
    await lock_all(store, "t")
    await store.handle_failure(task_id, "w1", "boom", None, 0, 100)
    before = await store.get(task_id)
    clock.advance(10_000)

    assert await store.sweep() == (0, False)

    assert await store.get(task_id) == before
    assert await store.topic_stats() == [TopicStats("t", 0, 0, 0, 1)]


async def test_sweep_after_the_locked_tasks_were_completed_moves_nothing(store, clock):
    task_id = await store.publish(NewTask("t"))
    await lock_all(store, "t")
    await store.complete(task_id, "w1")
    clock.advance(1000)

    assert await store.sweep() == (0, False)
    assert await store.topic_stats() == []


async def test_a_later_lease_is_swept_when_due_after_an_earlier_one_was_swept(store, clock):
    early, late = ids_in_partition(store, 2)
    await store.publish_many([NewTask("t", id=early), NewTask("t", id=late)])
    await store.lock(early, "w1", 1000)
    await store.lock(late, "w1", 3000)
    clock.advance(1000)
    assert await store.sweep() == (1, False)
    clock.advance(1999)
    assert await store.sweep() == (0, False)

    clock.advance(1)
    assert await store.sweep() == (1, False)
    assert (await store.get(late)).state == TaskState.AVAILABLE
