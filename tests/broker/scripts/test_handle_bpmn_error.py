"""handle_bpmn_error.lua, driven through Store.handle_bpmn_error."""

from __future__ import annotations

import pytest

from redtask.broker.errors import InvalidArgument, StaleLock, TaskNotFound, WorkerMismatch
from redtask.broker.model import NewTask, TopicRequest, TopicStats
from redtask.broker.store import Store


async def locked_task(store: Store, worker: str = "w1") -> str:
    task_id = await store.publish(NewTask("t"))
    [task] = await store.fetch_and_lock(worker, 1, [TopicRequest("t", 1000)])
    assert task.id == task_id
    return task_id


async def assert_gone(store: Store, task_id: str) -> None:
    with pytest.raises(TaskNotFound):
        await store.get(task_id)


async def test_a_bpmn_error_ends_the_task_and_logs_code_message_and_variables(store):
    task_id = await locked_task(store)

    await store.handle_bpmn_error(
        task_id, "w1", "E_CREDIT", "card declined", {"reason": {"value": "limit"}}
    )

    await assert_gone(store, task_id)
    assert await store.topic_stats() == []
    assert await store.finished() == [
        {
            "id": task_id,
            "t": "t",
            "outcome": "bpmn_error",
            "code": "E_CREDIT",
            "msg": "card declined",
            "v": '{"reason":{"type":"String","value":"limit","valueInfo":{}}}',
        }
    ]


async def test_a_bpmn_error_without_message_or_variables_logs_only_the_code(store):
    task_id = await locked_task(store)

    await store.handle_bpmn_error(task_id, "w1", "E1", lock_token=1)

    assert await store.finished() == [
        {"id": task_id, "t": "t", "outcome": "bpmn_error", "code": "E1"}
    ]


async def test_a_bpmn_error_on_an_incident_task_removes_the_incident(store):
    task_id = await locked_task(store)
    await store.handle_failure(task_id, "w1", "broken", None, 0, 0)

    await store.handle_bpmn_error(task_id, "w1", "E1")

    await assert_gone(store, task_id)
    assert await store.incidents() == []
    assert await store.topic_stats() == []


async def test_the_holder_may_report_a_bpmn_error_after_its_lock_expired(store, clock):
    task_id = await locked_task(store)
    clock.advance(5000)

    await store.handle_bpmn_error(task_id, "w1", "E1")

    await assert_gone(store, task_id)


@pytest.mark.parametrize("code", ["", None])
async def test_a_missing_error_code_is_invalid_and_keeps_the_task(store, code):
    task_id = await locked_task(store)
    before = await store.get(task_id)

    with pytest.raises(InvalidArgument) as caught:
        await store.handle_bpmn_error(task_id, "w1", code)  # type: ignore[arg-type]

    assert str(caught.value) == "errorCode is null"
    assert await store.get(task_id) == before
    assert await store.finished() == []


async def test_a_bpmn_error_for_an_unknown_task_raises_task_not_found(store):
    with pytest.raises(TaskNotFound) as caught:
        await store.handle_bpmn_error("no-such-task", "w1", "E1")

    assert caught.value.task_id == "no-such-task"
    assert await store.finished() == []


async def test_another_worker_cannot_report_a_bpmn_error(store):
    task_id = await locked_task(store, "w1")
    before = await store.get(task_id)

    with pytest.raises(WorkerMismatch) as caught:
        await store.handle_bpmn_error(task_id, "w2", "E1")

    assert (caught.value.worker_id, caught.value.current_worker) == ("w2", "w1")
    assert await store.get(task_id) == before
    assert await store.finished() == []


async def test_a_stale_worker_cannot_report_a_bpmn_error_once_another_relocked(store, clock):
    task_id = await locked_task(store, "w1")
    clock.advance(1000)
    await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)])

    with pytest.raises(WorkerMismatch) as caught:
        await store.handle_bpmn_error(task_id, "w1", "E1")

    assert caught.value.current_worker == "w2"
    assert await store.topic_stats() == [TopicStats("t", 0, 1, 0, 0)]


async def test_a_bpmn_error_with_a_stale_lock_token_is_refused(store, clock):
    task_id = await locked_task(store, "w1")
    clock.advance(1000)
    await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])
    before = await store.get(task_id)

    with pytest.raises(StaleLock) as caught:
        await store.handle_bpmn_error(task_id, "w1", "E1", lock_token=1)

    assert (caught.value.token, caught.value.current_token) == (1, 2)
    assert await store.get(task_id) == before
    assert await store.finished() == []
