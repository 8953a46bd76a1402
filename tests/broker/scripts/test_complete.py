"""complete.lua, driven through Store.complete and Store.complete_many."""

from __future__ import annotations

import pytest

from redtask.broker.errors import (
    InvalidArgument,
    InvalidVariable,
    StaleLock,
    TaskNotFound,
    WorkerMismatch,
)
from redtask.broker.model import NewTask, TaskState, TopicRequest, TopicStats
from redtask.broker.store import Completion, Store
from tests.broker.scripts.helpers import ids_in_partition


async def locked_task(store: Store, worker: str = "w1", duration: int = 1000) -> str:
    task_id = await store.publish(NewTask("t"))
    [task] = await store.fetch_and_lock(worker, 1, [TopicRequest("t", duration)])
    assert task.id == task_id
    return task_id


async def assert_gone(store: Store, task_id: str) -> None:
    with pytest.raises(TaskNotFound):
        await store.get(task_id)


async def test_the_lock_holder_completes_a_task_which_is_then_gone(store):
    task_id = await locked_task(store)

    await store.complete(task_id, "w1")

    await assert_gone(store, task_id)
    assert await store.topic_stats() == []
    assert await store.finished() == [{"id": task_id, "t": "t", "outcome": "complete"}]


async def test_completion_logs_the_variables_and_local_variables_it_was_given(store):
    task_id = await locked_task(store)

    await store.complete(
        task_id,
        "w1",
        {"total": {"value": 42}},
        {"note": {"type": "String", "value": "local"}},
    )

    assert await store.finished() == [
        {
            "id": task_id,
            "t": "t",
            "outcome": "complete",
            "v": '{"total":{"type":"Integer","value":42,"valueInfo":{}}}',
            "lv": '{"note":{"type":"String","value":"local","valueInfo":{}}}',
        }
    ]


async def test_the_finished_log_lists_the_newest_completion_first(store):
    # one partition: entries of different partitions in the same millisecond tie
    first, second = ids_in_partition(store, 2)
    await store.publish_many([NewTask("a", id=first), NewTask("b", id=second)])
    await store.fetch_and_lock("w1", 2, [TopicRequest("a", 1000), TopicRequest("b", 1000)])

    await store.complete(first, "w1")
    await store.complete(second, "w1")

    assert await store.finished() == [
        {"id": second, "t": "b", "outcome": "complete"},
        {"id": first, "t": "a", "outcome": "complete"},
    ]


async def test_the_holder_completes_when_it_presents_its_current_lock_token(store):
    task_id = await locked_task(store)

    await store.complete(task_id, "w1", lock_token=1)

    await assert_gone(store, task_id)


async def test_completing_an_unknown_task_raises_task_not_found(store):
    with pytest.raises(TaskNotFound) as caught:
        await store.complete("no-such-task", "w1")

    assert caught.value.task_id == "no-such-task"
    assert str(caught.value) == "External task with id no-such-task does not exist"
    assert await store.finished() == []


async def test_a_completed_task_cannot_be_completed_twice(store):
    task_id = await locked_task(store)
    await store.complete(task_id, "w1")

    with pytest.raises(TaskNotFound):
        await store.complete(task_id, "w1")

    assert len(await store.finished()) == 1


async def test_another_worker_cannot_complete_a_locked_task(store):
    task_id = await locked_task(store, "w1")
    before = await store.get(task_id)

    with pytest.raises(WorkerMismatch) as caught:
        await store.complete(task_id, "w2")

    assert (caught.value.task_id, caught.value.worker_id, caught.value.current_worker) == (
        task_id,
        "w2",
        "w1",
    )
    assert str(caught.value) == f"External Task {task_id} is locked by worker 'w1', not 'w2'."
    assert await store.get(task_id) == before
    assert await store.finished() == []


async def test_completing_a_task_nobody_locked_names_no_current_worker(store):
    task_id = await store.publish(NewTask("t"))
    before = await store.get(task_id)

    with pytest.raises(WorkerMismatch) as caught:
        await store.complete(task_id, "w1")

    assert caught.value.current_worker is None
    assert await store.get(task_id) == before


async def test_a_late_complete_is_accepted_when_nobody_relocked_the_task(store, clock):
    task_id = await locked_task(store, "w1", 1000)
    clock.advance(1001)

    await store.complete(task_id, "w1")

    await assert_gone(store, task_id)
    assert await store.topic_stats() == []


async def test_a_late_complete_is_accepted_after_a_sweep_returned_the_task(store, clock):
    task_id = await locked_task(store, "w1", 1000)
    clock.advance(1001)
    assert await store.sweep() == (1, False)
    assert (await store.get(task_id)).state == TaskState.AVAILABLE

    await store.complete(task_id, "w1", lock_token=1)

    await assert_gone(store, task_id)
    assert await store.topic_stats() == []
    assert await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)]) == []


async def test_a_stale_worker_cannot_complete_a_task_relocked_by_another(store, clock):
    task_id = await locked_task(store, "w1", 1000)
    clock.advance(1001)
    await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)])
    before = await store.get(task_id)

    with pytest.raises(WorkerMismatch) as caught:
        await store.complete(task_id, "w1")

    assert caught.value.current_worker == "w2"
    assert await store.get(task_id) == before


async def test_a_stale_lock_token_is_refused_even_for_the_same_worker(store, clock):
    task_id = await locked_task(store, "w1", 1000)
    clock.advance(1001)
    await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])
    before = await store.get(task_id)

    with pytest.raises(StaleLock) as caught:
        await store.complete(task_id, "w1", lock_token=1)

    assert (caught.value.task_id, caught.value.token, caught.value.current_token) == (
        task_id,
        1,
        2,
    )
    assert str(caught.value) == f"External task {task_id}: lock token 1 is stale (current 2)"
    assert await store.get(task_id) == before
    await store.complete(task_id, "w1", lock_token=2)
    await assert_gone(store, task_id)


async def test_completing_an_incident_task_resolves_its_incident(store):
    task_id = await locked_task(store)
    await store.handle_failure(task_id, "w1", "broken", None, 0, 0)
    assert len(await store.incidents()) == 1

    await store.complete(task_id, "w1")

    await assert_gone(store, task_id)
    assert await store.incidents() == []
    assert await store.topic_stats() == []


async def test_a_bad_variable_refuses_the_completion_and_keeps_the_task(store):
    task_id = await locked_task(store)
    before = await store.get(task_id)

    with pytest.raises(InvalidVariable) as caught:
        await store.complete(task_id, "w1", {"x": {"type": "STRING", "value": "v"}})

    assert str(caught.value) == "Unsupported value type 'STRING'"
    assert await store.get(task_id) == before
    assert await store.finished() == []


async def test_complete_many_reports_one_result_per_item(store, clock):
    ok = await store.publish(NewTask("t"))
    other = await store.publish(NewTask("t"))
    await store.fetch_and_lock("w1", 2, [TopicRequest("t", 1000)])

    results = await store.complete_many(
        [
            Completion(ok, "w1", {"n": {"value": 1}}),
            Completion("missing", "w1"),
            Completion(other, "w2"),
        ]
    )

    assert results[0] is None
    assert isinstance(results[1], TaskNotFound)
    assert results[1].task_id == "missing"
    assert isinstance(results[2], WorkerMismatch)
    assert results[2].current_worker == "w1"
    await assert_gone(store, ok)
    assert (await store.get(other)).state == TaskState.LOCKED
    assert await store.topic_stats() == [TopicStats("t", 0, 1, 0, 0)]
    assert await store.finished() == [
        {
            "id": ok,
            "t": "t",
            "outcome": "complete",
            "v": '{"n":{"type":"Integer","value":1,"valueInfo":{}}}',
        }
    ]


async def test_complete_many_finishes_a_batch_in_one_call_and_reports_each_item(store, clock):
    ids = await store.publish_many([NewTask("t") for _ in range(5)])
    await store.fetch_and_lock("w1", 5, [TopicRequest("t", 1000)])
    missing = "no-such-task"
    results = await store.complete_many(
        [
            Completion(ids[0], "w1"),
            Completion(ids[1], "w2"),
            Completion(missing, "w1"),
            Completion(ids[2], "w1", lock_token=7),
            Completion(ids[3], None),  # type: ignore[arg-type]
            Completion(ids[4], "w1"),
            Completion(ids[4], "w1"),  # the same task twice: the second finds it gone
        ]
    )
    assert results[0] is None and results[5] is None
    assert isinstance(results[1], WorkerMismatch) and results[1].current_worker == "w1"
    assert isinstance(results[2], TaskNotFound) and results[2].task_id == missing
    assert isinstance(results[3], StaleLock) and results[3].current_token == 1
    assert isinstance(results[4], InvalidArgument) and str(results[4]) == "workerId is null"
    assert isinstance(results[6], TaskNotFound)
    assert await store.topic_stats() == [TopicStats("t", 0, 3, 0, 0)]
    finished = await store.finished()
    assert sorted(e["id"] for e in finished) == sorted([ids[0], ids[4]])
