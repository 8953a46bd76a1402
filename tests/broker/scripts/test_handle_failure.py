"""handle_failure.lua, driven through Store.handle_failure."""

from __future__ import annotations

from dataclasses import replace

import pytest

from redtask.broker.errors import (
    InvalidArgument,
    InvalidVariable,
    StaleLock,
    TaskNotFound,
    WorkerMismatch,
)
from redtask.broker.model import Incident, NewTask, TaskState, TopicRequest, TopicStats
from redtask.broker.store import Store
from tests.broker.scripts.helpers import wake_messages


async def locked_task(store: Store, worker: str = "w1", **task_options) -> str:
    task_id = await store.publish(NewTask("t", **task_options))
    [task] = await store.fetch_and_lock(worker, 1, [TopicRequest("t", 1000)])
    assert task.id == task_id
    return task_id


async def wake_messages_during_failure(store: Store, *args, **kwargs) -> list[str]:
    return await wake_messages(store, lambda: store.handle_failure(*args, **kwargs))


async def test_a_failure_with_retries_and_a_timeout_waits_in_retry_keeping_the_worker(store, clock):
    task_id = await locked_task(store)
    before = await store.get(task_id)
    clock.advance(100)

    state = await store.handle_failure(task_id, "w1", "boom", "stack trace", 2, 5000)

    assert state is TaskState.RETRY
    assert await store.get(task_id) == replace(
        before,
        state=TaskState.RETRY,
        retries=2,
        lock_expiration_time=clock.now + 5000,
        error_message="boom",
        error_details="stack trace",
    )
    assert await store.error_details(task_id) == "stack trace"
    assert await store.topic_stats() == [TopicStats("t", 0, 0, 1, 0)]
    assert await store.incidents() == []


async def test_a_failure_with_a_zero_timeout_makes_the_task_available_at_once(store, clock):
    task_id = await locked_task(store)
    before = await store.get(task_id)
    clock.advance(100)

    woken = await wake_messages_during_failure(store, task_id, "w1", "boom", None, 1, 0)

    assert woken == ["t"]
    assert await store.get(task_id) == replace(
        before,
        state=TaskState.AVAILABLE,
        retries=1,
        lock_expiration_time=clock.now,
        error_message="boom",
    )
    assert await store.topic_stats() == [TopicStats("t", 1, 0, 0, 0)]
    [again] = await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)])
    assert (again.id, again.worker_id, again.lock_token) == (task_id, "w2", 2)


async def test_a_failure_returned_to_retry_does_not_wake_anyone(store):
    task_id = await locked_task(store)

    assert await wake_messages_during_failure(store, task_id, "w1", "boom", None, 1, 10) == []


async def test_a_failure_with_zero_retries_raises_exactly_one_incident(store, clock):
    task_id = await locked_task(store, tenant_id="tenant-a")
    before = await store.get(task_id)
    clock.advance(100)

    state = await store.handle_failure(task_id, "w1", "it broke", "details", 0, 3000)

    assert state is TaskState.INCIDENT
    task = await store.get(task_id)
    assert task.incident_id is not None
    assert task == replace(
        before,
        state=TaskState.INCIDENT,
        retries=0,
        lock_expiration_time=clock.now + 3000,
        error_message="it broke",
        error_details="details",
        incident_id=task.incident_id,
    )
    assert await store.incidents() == [
        Incident(
            id=task.incident_id,
            incident_type="failedExternalTask",
            incident_timestamp=clock.now,
            configuration=task_id,
            topic_name="t",
            incident_message="it broke",
            activity_id=None,
            execution_id=None,
            process_instance_id=None,
            process_definition_id=None,
            tenant_id="tenant-a",
        )
    ]
    assert await store.topic_stats() == [TopicStats("t", 0, 0, 0, 1)]


async def test_an_incident_without_error_message_has_no_incident_message(store):
    task_id = await locked_task(store)

    await store.handle_failure(task_id, "w1", None, None, 0, 0)

    [incident] = await store.incidents()
    assert (incident.configuration, incident.incident_message) == (task_id, None)
    assert (await store.get(task_id)).error_message is None


async def test_a_second_failure_with_zero_retries_keeps_the_single_incident(store, clock):
    task_id = await locked_task(store)
    await store.handle_failure(task_id, "w1", "first", None, 0, 0)
    [incident] = await store.incidents()
    clock.advance(10)

    assert await store.handle_failure(task_id, "w1", "second", None, 0, 0) is TaskState.INCIDENT

    assert await store.incidents() == [incident]
    task = await store.get(task_id)
    assert (task.incident_id, task.error_message) == (incident.id, "second")


async def test_the_error_message_is_truncated_to_666_characters(store):
    task_id = await locked_task(store)
    message = "".join(chr(ord("a") + n % 26) for n in range(700))

    await store.handle_failure(task_id, "w1", message, None, 0, 0)

    assert (await store.get(task_id)).error_message == message[:666]
    [incident] = await store.incidents()
    assert incident.incident_message == message[:666]


async def test_null_error_details_keep_the_previous_details(store):
    task_id = await locked_task(store)
    await store.handle_failure(task_id, "w1", "first", "first details", 3, 0)
    await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])

    await store.handle_failure(task_id, "w1", "second", None, 2, 0)

    task = await store.get(task_id)
    assert (task.error_message, task.error_details) == ("second", "first details")
    assert await store.error_details(task_id) == "first details"


async def test_empty_error_details_replace_the_previous_details(store):
    task_id = await locked_task(store)
    await store.handle_failure(task_id, "w1", "first", "first details", 3, 0)
    await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])

    await store.handle_failure(task_id, "w1", "second", "", 2, 0)

    assert await store.error_details(task_id) == ""


async def test_a_null_error_message_clears_the_previous_message(store):
    task_id = await locked_task(store)
    await store.handle_failure(task_id, "w1", "first", None, 3, 0)
    await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])

    await store.handle_failure(task_id, "w1", None, None, 2, 0)

    assert (await store.get(task_id)).error_message is None


async def test_a_failure_with_retries_after_zero_resolves_the_incident(store, clock):
    task_id = await locked_task(store)
    await store.handle_failure(task_id, "w1", "broken", None, 0, 0)
    clock.advance(10)

    state = await store.handle_failure(task_id, "w1", "retry it", None, 3, 2000)

    assert state is TaskState.RETRY
    assert await store.incidents() == []
    task = await store.get(task_id)
    assert (task.state, task.retries, task.incident_id, task.lock_expiration_time) == (
        TaskState.RETRY,
        3,
        None,
        clock.now + 2000,
    )
    assert await store.topic_stats() == [TopicStats("t", 0, 0, 1, 0)]
    clock.advance(2000)
    assert [t.id for t in await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)])] == [
        task_id
    ]


async def test_the_holder_may_report_a_failure_after_its_lock_expired(store, clock):
    task_id = await locked_task(store)
    clock.advance(5000)

    assert await store.handle_failure(task_id, "w1", "late", None, 1, 100) is TaskState.RETRY
    assert (await store.get(task_id)).lock_expiration_time == clock.now + 100


async def test_a_failure_for_an_unknown_task_raises_task_not_found(store):
    with pytest.raises(TaskNotFound) as caught:
        await store.handle_failure("no-such-task", "w1", "boom", None, 1, 0)

    assert caught.value.task_id == "no-such-task"


async def test_another_worker_cannot_report_a_failure(store):
    task_id = await locked_task(store, "w1")
    before = await store.get(task_id)

    with pytest.raises(WorkerMismatch) as caught:
        await store.handle_failure(task_id, "w2", "boom", None, 0, 0)

    assert (caught.value.worker_id, caught.value.current_worker) == ("w2", "w1")
    assert await store.get(task_id) == before
    assert await store.incidents() == []


async def test_a_failure_with_a_stale_lock_token_is_refused(store, clock):
    task_id = await locked_task(store, "w1")
    clock.advance(1000)
    await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])
    before = await store.get(task_id)

    with pytest.raises(StaleLock) as caught:
        await store.handle_failure(task_id, "w1", "boom", None, 0, 0, lock_token=1)

    assert (caught.value.token, caught.value.current_token) == (1, 2)
    assert await store.get(task_id) == before
    assert await store.incidents() == []


@pytest.mark.parametrize(
    ("retries", "timeout", "message"),
    [
        (-1, 0, "retries is not greater than or equal to 0"),
        (1, -1, "retryDuration is not greater than or equal to 0"),
    ],
)
async def test_negative_retries_or_timeout_are_invalid_and_change_nothing(
    store, retries, timeout, message
):
    task_id = await locked_task(store)
    before = await store.get(task_id)

    with pytest.raises(InvalidArgument) as caught:
        await store.handle_failure(task_id, "w1", "boom", "details", retries, timeout)

    assert str(caught.value) == message
    assert await store.get(task_id) == before


async def test_failure_variables_are_set_on_the_task_for_the_next_fetch(store, clock):
    task_id = await locked_task(store, variables={"attempt": {"value": 1}, "keep": {"value": "k"}})

    await store.handle_failure(
        task_id,
        "w1",
        "boom",
        None,
        2,
        0,
        variables={"attempt": {"value": 2}, "shared": {"value": "global"}},
        local_variables={"shared": {"type": "String", "value": "local"}},
    )

    [task] = await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)])
    assert task.variables == {
        "attempt": {"type": "Integer", "value": 2, "valueInfo": {}},
        "keep": {"type": "String", "value": "k", "valueInfo": {}},
        "shared": {"type": "String", "value": "local", "valueInfo": {}},
    }


async def test_a_bad_failure_variable_refuses_the_whole_failure(store):
    task_id = await locked_task(store)
    before = await store.get(task_id)

    with pytest.raises(InvalidVariable) as caught:
        await store.handle_failure(
            task_id, "w1", "boom", None, 0, 0, variables={"n": {"type": "Short", "value": 10**6}}
        )

    assert str(caught.value) == (
        "Cannot convert value '1000000' of type 'Short' to java type java.lang.Short"
    )
    assert await store.get(task_id) == before
    assert await store.incidents() == []
