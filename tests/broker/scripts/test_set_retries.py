"""set_retries.lua, driven through Store.set_retries and Store.set_retries_many."""

from __future__ import annotations

from dataclasses import replace

import pytest

from redtask.broker.errors import InvalidArgument, TaskNotFound
from redtask.broker.model import Incident, NewTask, TaskState, TopicRequest, TopicStats
from redtask.broker.store import Store
from tests.broker.scripts.helpers import wake_messages


async def fetch_ids(store: Store, worker: str = "w2") -> list[str]:
    return [t.id for t in await store.fetch_and_lock(worker, 10, [TopicRequest("t", 1000)])]


async def wake_messages_during_set_retries(store: Store, task_id: str, retries: int) -> list[str]:
    return await wake_messages(store, lambda: store.set_retries(task_id, retries))


async def test_zero_retries_turn_an_available_task_into_an_incident(store, clock):
    task_id = await store.publish(NewTask("t", tenant_id="tn"))
    before = await store.get(task_id)
    clock.advance(30)

    await store.set_retries(task_id, 0)

    task = await store.get(task_id)
    assert task.incident_id is not None
    assert task == replace(
        before, state=TaskState.INCIDENT, retries=0, incident_id=task.incident_id
    )
    assert await store.incidents() == [
        Incident(
            id=task.incident_id,
            incident_type="failedExternalTask",
            incident_timestamp=clock.now,
            configuration=task_id,
            topic_name="t",
            incident_message=None,
            activity_id=None,
            execution_id=None,
            process_instance_id=None,
            process_definition_id=None,
            tenant_id="tn",
        )
    ]
    assert await store.topic_stats() == [TopicStats("t", 0, 0, 0, 1)]
    assert await fetch_ids(store) == []


async def test_the_incident_message_is_the_last_error_message(store):
    task_id = await store.publish(NewTask("t"))
    await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])
    await store.handle_failure(task_id, "w1", "last words", None, 2, 0)

    await store.set_retries(task_id, 0)

    [incident] = await store.incidents()
    assert (incident.configuration, incident.incident_message) == (task_id, "last words")


async def test_setting_zero_retries_twice_keeps_a_single_incident(store):
    task_id = await store.publish(NewTask("t"))
    await store.set_retries(task_id, 0)
    incidents = await store.incidents()

    await store.set_retries(task_id, 0)

    assert await store.incidents() == incidents
    assert len(incidents) == 1


async def test_retries_above_zero_resolve_the_incident_and_make_the_task_fetchable_now(store):
    task_id = await store.publish(NewTask("t"))
    await store.set_retries(task_id, 0)
    before = await store.get(task_id)

    woken = await wake_messages_during_set_retries(store, task_id, 2)

    assert woken == ["t"]
    assert await store.incidents() == []
    assert await store.get(task_id) == replace(
        before, state=TaskState.AVAILABLE, retries=2, incident_id=None
    )
    assert await store.topic_stats() == [TopicStats("t", 1, 0, 0, 0)]
    assert await fetch_ids(store) == [task_id]


async def test_a_resolved_task_waits_for_its_lock_expiry_before_it_is_fetchable(store, clock):
    task_id = await store.publish(NewTask("t"))
    await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])
    await store.handle_failure(task_id, "w1", "boom", None, 0, 5000)
    expiry = clock.now + 5000
    clock.advance(1000)

    assert await wake_messages_during_set_retries(store, task_id, 3) == []

    task = await store.get(task_id)
    assert (task.state, task.retries, task.lock_expiration_time, task.worker_id) == (
        TaskState.RETRY,
        3,
        expiry,
        "w1",
    )
    assert await store.incidents() == []
    assert await store.topic_stats() == [TopicStats("t", 0, 0, 1, 0)]
    clock.advance(3999)
    assert await fetch_ids(store) == []
    clock.advance(1)
    assert await fetch_ids(store) == [task_id]


async def test_a_resolved_task_whose_lock_expiry_passed_is_fetchable_at_once(store, clock):
    task_id = await store.publish(NewTask("t"))
    await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])
    await store.handle_failure(task_id, "w1", "boom", None, 0, 5000)
    clock.advance(5000)

    await store.set_retries(task_id, 1)

    assert (await store.get(task_id)).state == TaskState.AVAILABLE
    assert await fetch_ids(store) == [task_id]


async def test_a_drop_to_zero_again_opens_a_new_incident(store, clock):
    task_id = await store.publish(NewTask("t"))
    await store.set_retries(task_id, 0)
    [first] = await store.incidents()
    await store.set_retries(task_id, 1)
    clock.advance(10)

    await store.set_retries(task_id, 0)

    [second] = await store.incidents()
    assert second.id != first.id
    assert (second.configuration, second.incident_timestamp) == (task_id, clock.now)
    assert (await store.get(task_id)).incident_id == second.id


async def test_new_retries_on_a_task_with_retries_left_change_only_the_retries(store):
    task_id = await store.publish(NewTask("t"))
    await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])
    before = await store.get(task_id)

    await store.set_retries(task_id, 7)

    assert await store.get(task_id) == replace(before, retries=7)
    assert await store.incidents() == []
    assert await store.topic_stats() == [TopicStats("t", 0, 1, 0, 0)]


async def test_zero_retries_on_a_locked_task_leave_the_holder_able_to_complete(store):
    task_id = await store.publish(NewTask("t"))
    await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])

    await store.set_retries(task_id, 0)
    assert await store.topic_stats() == [TopicStats("t", 0, 0, 0, 1)]
    await store.complete(task_id, "w1")

    assert await store.incidents() == []
    assert await store.topic_stats() == []


async def test_set_retries_many_updates_every_task_and_counts_them_once(store):
    ids = await store.publish_many([NewTask("t"), NewTask("t"), NewTask("u")])

    assert await store.set_retries_many([*ids, ids[0]], 0) == 3

    assert sorted(i.configuration for i in await store.incidents()) == sorted(ids)
    assert [(await store.get(i)).state for i in ids] == [TaskState.INCIDENT] * 3
    assert await store.topic_stats() == [TopicStats("t", 0, 0, 0, 2), TopicStats("u", 0, 0, 0, 1)]


async def test_an_unknown_id_in_set_retries_many_changes_none_of_the_others(store):
    ids = await store.publish_many([NewTask("t") for _ in range(6)])
    before = [await store.get(i) for i in ids]

    with pytest.raises(TaskNotFound) as caught:
        await store.set_retries_many([*ids[:3], "no-such-task", *ids[3:]], 0)

    assert caught.value.task_id == "no-such-task"
    assert [await store.get(i) for i in ids] == before
    assert await store.incidents() == []
    assert await store.topic_stats() == [TopicStats("t", 6, 0, 0, 0)]


async def test_setting_retries_of_an_unknown_task_raises_task_not_found(store):
    with pytest.raises(TaskNotFound) as caught:
        await store.set_retries("no-such-task", 1)

    assert str(caught.value) == "External task with id no-such-task does not exist"


@pytest.mark.parametrize(
    ("retries", "message"),
    [(-1, "retries is not greater than or equal to 0"), ("1", "retries must be an integer")],
)
async def test_invalid_retries_are_refused_and_change_nothing(store, retries, message):
    task_id = await store.publish(NewTask("t"))
    before = await store.get(task_id)

    with pytest.raises(InvalidArgument) as caught:
        await store.set_retries(task_id, retries)

    assert str(caught.value) == message
    assert await store.get(task_id) == before
