"""extend_lock.lua, driven through Store.extend_lock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from redtask.broker.errors import (
    InvalidArgument,
    LockExpired,
    StaleLock,
    TaskNotFound,
    WorkerMismatch,
)
from redtask.broker.model import NewTask, TaskState, TopicRequest, TopicStats
from redtask.broker.store import Store


async def locked_task(store: Store, worker: str = "w1", duration: int = 1000) -> str:
    task_id = await store.publish(NewTask("t"))
    [task] = await store.fetch_and_lock(worker, 1, [TopicRequest("t", duration)])
    assert task.id == task_id
    return task_id


async def test_extending_sets_the_expiry_to_now_plus_the_new_duration(store, clock):
    task_id = await locked_task(store, duration=1000)
    before = await store.get(task_id)
    clock.advance(600)

    await store.extend_lock(task_id, "w1", 300, lock_token=1)

    assert await store.get(task_id) == replace(before, lock_expiration_time=clock.now + 300)
    assert await store.topic_stats() == [TopicStats("t", 0, 1, 0, 0)]


async def test_an_extended_lock_is_not_reclaimed_at_its_old_expiry(store, clock):
    task_id = await locked_task(store, duration=1000)
    clock.advance(900)
    await store.extend_lock(task_id, "w1", 5000)
    clock.advance(1000)

    assert await store.sweep() == (0, False)
    assert await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)]) == []
    clock.advance(4000)
    [task] = await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)])
    assert (task.id, task.worker_id, task.lock_token) == (task_id, "w2", 2)


async def test_a_lock_can_be_extended_at_its_expiry_instant(store, clock):
    task_id = await locked_task(store, duration=1000)
    clock.advance(1000)

    await store.extend_lock(task_id, "w1", 2000)

    task = await store.get(task_id)
    assert (task.state, task.lock_expiration_time) == (TaskState.LOCKED, clock.now + 2000)
    assert await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)]) == []


async def test_a_lock_extended_at_its_expiry_instant_keeps_other_workers_out_after_a_sweep(
    store, clock
):
    task_id = await locked_task(store, duration=1000)
    clock.advance(1000)
    assert await store.sweep() == (1, False)

    await store.extend_lock(task_id, "w1", 2000)

    assert (await store.get(task_id)).lock_expiration_time == clock.now + 2000
    assert await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)]) == []
    assert (await store.get(task_id)).worker_id == "w1"


async def test_extending_an_expired_lock_raises_lock_expired_and_changes_nothing(store, clock):
    task_id = await locked_task(store, duration=1000)
    clock.advance(1001)
    before = await store.get(task_id)

    with pytest.raises(LockExpired) as caught:
        await store.extend_lock(task_id, "w1", 1000)

    assert (caught.value.task_id, caught.value.now_ms) == (task_id, clock.now)
    assert str(caught.value) == (
        "Cannot extend a lock that expired: lockExpirationTime is not greater than or "
        f"equal to {clock.now}"
    )
    assert await store.get(task_id) == before


async def test_the_holder_can_extend_its_lock_during_its_retry_timeout(store, clock):
    task_id = await locked_task(store)
    await store.handle_failure(task_id, "w1", "boom", None, 2, 1000)

    await store.extend_lock(task_id, "w1", 5000)

    task = await store.get(task_id)
    assert (task.state, task.lock_expiration_time) == (TaskState.RETRY, clock.now + 5000)
    clock.advance(1000)
    assert await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)]) == []
    clock.advance(4000)
    assert [t.id for t in await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)])] == [
        task_id
    ]


@pytest.mark.parametrize("duration", [0, -1])
async def test_a_new_duration_not_above_zero_is_invalid_even_for_an_unknown_task(store, duration):
    task_id = await locked_task(store)
    before = await store.get(task_id)

    for target in (task_id, "no-such-task"):
        with pytest.raises(InvalidArgument) as caught:
            await store.extend_lock(target, "w1", duration)
        assert str(caught.value) == "lockTime is not greater than 0"
    assert await store.get(task_id) == before


async def test_extending_the_lock_of_an_unknown_task_raises_task_not_found(store):
    with pytest.raises(TaskNotFound) as caught:
        await store.extend_lock("no-such-task", "w1", 1000)

    assert caught.value.task_id == "no-such-task"


async def test_another_worker_cannot_extend_the_lock(store):
    task_id = await locked_task(store, "w1")
    before = await store.get(task_id)

    with pytest.raises(WorkerMismatch) as caught:
        await store.extend_lock(task_id, "w2", 1000)

    assert (caught.value.task_id, caught.value.worker_id, caught.value.current_worker) == (
        task_id,
        "w2",
        "w1",
    )
    assert await store.get(task_id) == before


async def test_a_task_nobody_locked_cannot_be_extended_and_names_no_current_worker(store):
    task_id = await store.publish(NewTask("t"))
    before = await store.get(task_id)

    with pytest.raises(WorkerMismatch) as caught:
        await store.extend_lock(task_id, "w1", 1000)

    assert caught.value.current_worker is None
    assert await store.get(task_id) == before


async def test_an_unlocked_task_cannot_be_extended_by_its_former_holder(store):
    task_id = await locked_task(store, "w1")
    await store.unlock(task_id)

    with pytest.raises(WorkerMismatch):
        await store.extend_lock(task_id, "w1", 1000)

    assert (await store.get(task_id)).state == TaskState.AVAILABLE


async def test_extending_with_a_stale_lock_token_is_refused(store, clock):
    task_id = await locked_task(store, "w1")
    clock.advance(1000)
    await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])
    before = await store.get(task_id)

    with pytest.raises(StaleLock) as caught:
        await store.extend_lock(task_id, "w1", 9000, lock_token=1)

    assert (caught.value.token, caught.value.current_token) == (1, 2)
    assert await store.get(task_id) == before
