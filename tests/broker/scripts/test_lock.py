"""lock.lua (lock one task by id, without fetching), driven through Store.lock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from redtask.broker.errors import InvalidArgument, TaskNotFound, WorkerMismatch
from redtask.broker.model import NewTask, TaskState, TopicRequest, TopicStats


async def test_locking_an_available_task_returns_token_one_and_locks_it(store, clock):
    task_id = await store.publish(NewTask("t", retries=2))
    before = await store.get(task_id)
    clock.advance(20)

    token = await store.lock(task_id, "w1", 1000)

    assert token == 1
    assert await store.get(task_id) == replace(
        before,
        state=TaskState.LOCKED,
        worker_id="w1",
        lock_expiration_time=clock.now + 1000,
        lock_token=1,
    )
    assert await store.topic_stats() == [TopicStats("t", 0, 1, 0, 0)]
    assert await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)]) == []


async def test_the_same_worker_may_lock_again_and_gets_a_new_token_and_expiry(store, clock):
    task_id = await store.publish(NewTask("t"))
    await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])
    clock.advance(500)

    token = await store.lock(task_id, "w1", 3000)

    task = await store.get(task_id)
    assert (token, task.lock_token, task.worker_id, task.lock_expiration_time, task.state) == (
        2,
        2,
        "w1",
        clock.now + 3000,
        TaskState.LOCKED,
    )
    assert await store.topic_stats() == [TopicStats("t", 0, 1, 0, 0)]


async def test_another_worker_cannot_lock_a_task_whose_lock_is_still_valid(store, clock):
    task_id = await store.publish(NewTask("t"))
    await store.lock(task_id, "w1", 1000)
    before = await store.get(task_id)
    clock.advance(1000)  # now == lockExpirationTime: still valid for lock (now <= expiry)

    with pytest.raises(WorkerMismatch) as caught:
        await store.lock(task_id, "w2", 1000)

    assert (caught.value.task_id, caught.value.worker_id, caught.value.current_worker) == (
        task_id,
        "w2",
        "w1",
    )
    assert str(caught.value) == f"External Task {task_id} is locked by worker 'w1', not 'w2'."
    assert await store.get(task_id) == before


async def test_another_worker_may_lock_a_task_whose_lock_expired(store, clock):
    task_id = await store.publish(NewTask("t"))
    await store.lock(task_id, "w1", 1000)
    clock.advance(1001)

    token = await store.lock(task_id, "w2", 500)

    task = await store.get(task_id)
    assert (token, task.worker_id, task.lock_expiration_time, task.state) == (
        2,
        "w2",
        clock.now + 500,
        TaskState.LOCKED,
    )
    assert await store.topic_stats() == [TopicStats("t", 0, 1, 0, 0)]


async def test_a_task_swept_back_after_expiry_can_be_locked_by_another_worker(store, clock):
    task_id = await store.publish(NewTask("t"))
    await store.lock(task_id, "w1", 1000)
    clock.advance(1001)
    assert await store.sweep() == (1, False)

    assert await store.lock(task_id, "w2", 1000) == 2
    assert (await store.get(task_id)).state == TaskState.LOCKED
    assert await store.topic_stats() == [TopicStats("t", 0, 1, 0, 0)]


async def test_an_unlocked_task_can_be_locked_by_anyone(store, clock):
    task_id = await store.publish(NewTask("t"))
    await store.lock(task_id, "w1", 60_000)
    await store.unlock(task_id)

    assert await store.lock(task_id, "w2", 1000) == 2
    assert (await store.get(task_id)).worker_id == "w2"


async def test_locking_a_task_waiting_out_its_retry_timeout_makes_it_locked(store, clock):
    task_id = await store.publish(NewTask("t"))
    await store.lock(task_id, "w1", 1000)
    await store.handle_failure(task_id, "w1", "boom", None, 3, 10_000)

    assert await store.lock(task_id, "w1", 2000) == 2
    task = await store.get(task_id)
    assert (task.state, task.lock_expiration_time, task.retries) == (
        TaskState.LOCKED,
        clock.now + 2000,
        3,
    )
    assert await store.topic_stats() == [TopicStats("t", 0, 1, 0, 0)]


async def test_another_worker_cannot_lock_a_task_during_the_failed_holders_retry_timeout(
    store, clock
):
    task_id = await store.publish(NewTask("t"))
    await store.lock(task_id, "w1", 1000)
    await store.handle_failure(task_id, "w1", "boom", None, 3, 10_000)

    with pytest.raises(WorkerMismatch) as caught:
        await store.lock(task_id, "w2", 1000)

    assert caught.value.current_worker == "w1"


async def test_locking_an_incident_task_takes_the_lock_but_keeps_it_an_incident(store, clock):
    task_id = await store.publish(NewTask("t"))
    await store.set_retries(task_id, 0)
    before = await store.get(task_id)

    token = await store.lock(task_id, "w1", 1000)

    assert token == 1
    assert await store.get(task_id) == replace(
        before, worker_id="w1", lock_expiration_time=clock.now + 1000, lock_token=1
    )
    assert await store.topic_stats() == [TopicStats("t", 0, 0, 0, 1)]
    clock.advance(5000)
    assert await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)]) == []


async def test_a_task_locked_by_id_is_fetchable_again_once_the_lock_expires(store, clock):
    task_id = await store.publish(NewTask("t"))
    await store.lock(task_id, "w1", 1000)
    clock.advance(1000)

    [task] = await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)])

    assert (task.id, task.worker_id, task.lock_token) == (task_id, "w2", 2)


async def test_locking_an_unknown_task_raises_task_not_found(store):
    with pytest.raises(TaskNotFound) as caught:
        await store.lock("no-such-task", "w1", 1000)

    assert caught.value.task_id == "no-such-task"
    assert str(caught.value) == "External task with id no-such-task does not exist"


@pytest.mark.parametrize("duration", [0, -5])
async def test_a_lock_duration_not_above_zero_is_invalid_and_changes_nothing(store, duration):
    task_id = await store.publish(NewTask("t"))
    before = await store.get(task_id)

    with pytest.raises(InvalidArgument) as caught:
        await store.lock(task_id, "w1", duration)

    assert str(caught.value) == "lockDuration is not greater than 0"
    assert await store.get(task_id) == before


async def test_a_lock_duration_that_is_not_an_integer_is_invalid(store):
    task_id = await store.publish(NewTask("t"))

    with pytest.raises(InvalidArgument) as caught:
        await store.lock(task_id, "w1", "1000")  # type: ignore[arg-type]

    assert str(caught.value) == "lockDuration must be an integer"
