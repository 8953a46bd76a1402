"""unlock.lua, driven through Store.unlock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from redtask.broker.errors import StaleLock, TaskNotFound, WorkerMismatch
from redtask.broker.model import NewTask, TaskState, TopicRequest, TopicStats
from redtask.broker.store import Store
from tests.broker.scripts.helpers import wake_messages


async def locked_task(store: Store, worker: str = "w1") -> str:
    task_id = await store.publish(NewTask("t"))
    [task] = await store.fetch_and_lock(worker, 1, [TopicRequest("t", 60_000)])
    assert task.id == task_id
    return task_id


async def wake_messages_during_unlock(store: Store, task_id: str) -> list[str]:
    return await wake_messages(store, lambda: store.unlock(task_id))


async def test_unlocking_clears_worker_and_lock_and_makes_the_task_fetchable(store, clock):
    task_id = await locked_task(store)
    before = await store.get(task_id)

    woken = await wake_messages_during_unlock(store, task_id)

    assert woken == ["t"]
    assert await store.get(task_id) == replace(
        before, state=TaskState.AVAILABLE, worker_id=None, lock_expiration_time=None
    )
    assert await store.topic_stats() == [TopicStats("t", 1, 0, 0, 0)]
    [again] = await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)])
    assert (again.id, again.worker_id, again.lock_token) == (task_id, "w2", 2)


async def test_the_former_holder_cannot_complete_an_unlocked_task(store):
    task_id = await locked_task(store)
    await store.unlock(task_id)

    with pytest.raises(WorkerMismatch):
        await store.complete(task_id, "w1")

    assert (await store.get(task_id)).state == TaskState.AVAILABLE


async def test_unlocking_a_task_waiting_out_its_retry_timeout_makes_it_fetchable_now(store, clock):
    task_id = await locked_task(store)
    await store.handle_failure(task_id, "w1", "boom", None, 2, 60_000)

    await store.unlock(task_id)

    task = await store.get(task_id)
    assert (task.state, task.worker_id, task.lock_expiration_time, task.retries) == (
        TaskState.AVAILABLE,
        None,
        None,
        2,
    )
    assert await store.topic_stats() == [TopicStats("t", 1, 0, 0, 0)]
    assert [t.id for t in await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)])] == [
        task_id
    ]


async def test_unlocking_an_incident_task_clears_the_lock_but_keeps_the_incident(store):
    task_id = await locked_task(store)
    await store.handle_failure(task_id, "w1", "boom", None, 0, 60_000)
    before = await store.get(task_id)

    assert await wake_messages_during_unlock(store, task_id) == []

    assert await store.get(task_id) == replace(before, worker_id=None, lock_expiration_time=None)
    assert len(await store.incidents()) == 1
    assert await store.topic_stats() == [TopicStats("t", 0, 0, 0, 1)]
    assert await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)]) == []


async def test_unlocking_an_available_task_changes_nothing(store):
    task_id = await store.publish(NewTask("t"))
    before = await store.get(task_id)

    await store.unlock(task_id)

    assert await store.get(task_id) == before
    assert await store.topic_stats() == [TopicStats("t", 1, 0, 0, 0)]


async def test_unlocking_an_unknown_task_raises_task_not_found(store):
    with pytest.raises(TaskNotFound) as caught:
        await store.unlock("no-such-task")

    assert caught.value.task_id == "no-such-task"
    assert str(caught.value) == "External task with id no-such-task does not exist"


async def relocked_by_another_worker(store: Store, clock) -> str:
    """A task w1 locked with token 1, whose lock expired and which w2 then locked (token 2)."""
    task_id = await locked_task(store, "w1")
    clock.advance(60_001)
    await store.sweep()
    [again] = await store.fetch_and_lock("w2", 1, [TopicRequest("t", 60_000)])
    assert (again.id, again.worker_id, again.lock_token) == (task_id, "w2", 2)
    return task_id


async def test_a_stale_token_cannot_unlock_a_task_re_locked_by_another_worker(store, clock):
    task_id = await relocked_by_another_worker(store, clock)
    before = await store.get(task_id)
    refusals: list[StaleLock] = []

    async def unlock_with_the_old_token() -> None:
        try:
            await store.unlock(task_id, lock_token=1)
        except StaleLock as exc:
            refusals.append(exc)

    woken = await wake_messages(store, unlock_with_the_old_token)

    [refusal] = refusals
    assert (refusal.task_id, refusal.token, refusal.current_token) == (task_id, 1, 2)
    assert str(refusal) == f"External task {task_id}: lock token 1 is stale (current 2)"
    assert woken == []
    assert await store.get(task_id) == before
    assert (before.state, before.worker_id, before.lock_token) == (TaskState.LOCKED, "w2", 2)
    assert await store.topic_stats() == [TopicStats("t", 0, 1, 0, 0)]
    await store.complete(task_id, "w2", lock_token=2)  # the new holder still owns it


async def test_the_current_token_unlocks_and_no_token_unlocks_whoever_holds_the_lock(store, clock):
    task_id = await relocked_by_another_worker(store, clock)

    await store.unlock(task_id, lock_token=2)

    task = await store.get(task_id)
    assert (task.state, task.worker_id, task.lock_expiration_time) == (
        TaskState.AVAILABLE,
        None,
        None,
    )
    [third] = await store.fetch_and_lock("w3", 1, [TopicRequest("t", 60_000)])
    assert third.lock_token == 3
    await store.unlock(task_id)  # the REST API's unlock presents no token: no check
    assert (await store.get(task_id)).state == TaskState.AVAILABLE
