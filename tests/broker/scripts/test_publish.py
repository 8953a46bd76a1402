"""publish.lua, driven through Store.publish and Store.publish_many."""

from __future__ import annotations

import uuid

import pytest

from redtask.broker.errors import DuplicateTask, InvalidArgument, InvalidVariable
from redtask.broker.model import ExternalTask, NewTask, TaskState, TopicRequest, TopicStats
from redtask.broker.query import TaskQuery
from redtask.broker.store import Completion, Store
from tests.broker.scripts.helpers import id_outside_partition, ids_in_partition, wake_messages


async def namespace_keys(store: Store) -> set[str]:
    keys = [k async for k in store.redis.scan_iter(match=f"*{store.settings.namespace}*")]
    return set(keys) - {store.keys.config}


async def test_a_published_task_is_stored_available_with_exact_fields(store, clock):
    task_id = await store.publish(
        NewTask(
            "orders",
            {"n": {"type": "Integer", "value": "5"}},
            priority=7,
            retries=3,
            business_key="bk-1",
            tenant_id="tenant-a",
        )
    )

    assert await store.get(task_id) == ExternalTask(
        id=task_id,
        topic_name="orders",
        state=TaskState.AVAILABLE,
        create_time=clock.now,
        priority=7,
        retries=3,
        worker_id=None,
        lock_expiration_time=None,
        lock_token=0,
        error_message=None,
        error_details=None,
        business_key="bk-1",
        tenant_id="tenant-a",
        variables={"n": {"type": "Integer", "value": 5, "valueInfo": {}}},
    )
    assert await store.topic_stats() == [TopicStats("orders", 1, 0, 0, 0)]


async def test_a_task_published_without_options_has_null_retries_and_no_variables(store, clock):
    task_id = await store.publish(NewTask("plain"))

    assert str(uuid.UUID(task_id)) == task_id and uuid.UUID(task_id).version == 4
    task = await store.get(task_id)
    assert (task.retries, task.priority, task.variables, task.business_key, task.tenant_id) == (
        None,
        0,
        {},
        None,
        None,
    )
    assert await store.error_details(task_id) is None


async def test_a_published_task_keeps_the_id_the_caller_chose(store):
    assert await store.publish(NewTask("t", id="my-own-id")) == "my-own-id"
    assert (await store.get("my-own-id")).topic_name == "t"


async def test_create_time_is_the_clock_at_publication(store, clock):
    first = await store.publish(NewTask("t"))
    start = clock.now
    clock.advance(250)
    second = await store.publish(NewTask("t"))

    assert (await store.get(first)).create_time == start
    assert (await store.get(second)).create_time == start + 250


async def test_publish_many_returns_the_ids_in_order_and_stores_every_task(store):
    ids = await store.publish_many(
        [NewTask("a", id="t-1"), NewTask("b"), NewTask("a", id="t-3", priority=-4)]
    )

    assert ids[0] == "t-1"
    assert ids[2] == "t-3"
    assert len(set(ids)) == 3
    assert [(await store.get(i)).topic_name for i in ids] == ["a", "b", "a"]
    assert (await store.get("t-3")).priority == -4
    assert await store.count(TaskQuery()) == 3
    assert await store.topic_stats() == [TopicStats("a", 2, 0, 0, 0), TopicStats("b", 1, 0, 0, 0)]


async def test_the_extreme_long_priorities_are_stored_exactly(store):
    low = await store.publish(NewTask("t", priority=-(2**63)))
    high = await store.publish(NewTask("t", priority=2**63 - 1))

    assert (await store.get(low)).priority == -(2**63)
    assert (await store.get(high)).priority == 2**63 - 1


async def test_a_published_task_can_be_fetched_at_once(store, clock):
    task_id = await store.publish(NewTask("t"))

    got = await store.fetch_and_lock("w", 10, [TopicRequest("t", 1000)])

    assert [t.id for t in got] == [task_id]


async def test_publishing_an_existing_id_raises_duplicate_task_and_changes_nothing(store, clock):
    await store.publish(NewTask("t", {"x": {"value": 1}}, priority=3, id="dup"))
    before = await store.get("dup")
    clock.advance(10)

    with pytest.raises(DuplicateTask) as caught:
        await store.publish(NewTask("other", priority=9, id="dup"))

    assert caught.value.task_id == "dup"
    assert str(caught.value) == "External task with id dup already exists"
    assert await store.get("dup") == before
    assert await store.topic_stats() == [TopicStats("t", 1, 0, 0, 0)]


async def test_a_batch_with_a_duplicate_in_the_same_partition_stores_nothing(store):
    existing, fresh = ids_in_partition(store, 2)
    await store.publish(NewTask("t", id=existing))

    with pytest.raises(DuplicateTask) as caught:
        await store.publish_many([NewTask("t", id=fresh), NewTask("t", id=existing)])

    assert caught.value.task_id == existing
    assert await store.count(TaskQuery()) == 1
    assert await store.topic_stats() == [TopicStats("t", 1, 0, 0, 0)]


async def test_a_batch_whose_last_task_duplicates_an_existing_id_stores_none_of_the_batch(store):
    # The fresh task lands in another partition than the duplicate whenever there are several.
    existing = ids_in_partition(store, 1, 0)[0]
    fresh = id_outside_partition(store, 0)
    await store.publish(NewTask("t", id=existing))

    with pytest.raises(DuplicateTask):
        await store.publish_many([NewTask("fresh-topic", id=fresh), NewTask("t", id=existing)])

    assert await store.count(TaskQuery()) == 1
    assert await store.topic_stats() == [TopicStats("t", 1, 0, 0, 0)]


async def test_a_batch_that_repeats_an_id_is_refused_as_a_duplicate_and_stores_nothing(store):
    with pytest.raises(DuplicateTask) as caught:
        await store.publish_many([NewTask("first", id="twice"), NewTask("second", id="twice")])

    assert caught.value.task_id == "twice"
    assert await store.count(TaskQuery()) == 0
    assert await store.topic_stats() == []


async def test_publishing_wakes_each_topic_of_a_partition_once(store):
    a1, a2, b1 = ids_in_partition(store, 3)

    woken = await wake_messages(
        store,
        lambda: store.publish_many([NewTask("a", id=a1), NewTask("a", id=a2), NewTask("b", id=b1)]),
    )

    assert sorted(woken) == ["a", "b"]


async def test_publishing_with_zero_retries_is_refused_and_stores_nothing(store):
    with pytest.raises(InvalidArgument) as caught:
        await store.publish(NewTask("t", retries=0))

    assert str(caught.value) == "retries is out of range [1, 2147483647]"
    assert await namespace_keys(store) == set()


async def test_publishing_a_bad_variable_raises_invalid_variable_and_stores_nothing(store):
    with pytest.raises(InvalidVariable) as caught:
        await store.publish(NewTask("t", {"n": {"type": "Integer", "value": "five"}}))

    assert str(caught.value) == (
        "Cannot convert value 'five' of type 'Integer' to java type java.lang.Integer"
    )
    assert caught.value.kind == "InvalidRequestException"
    assert await namespace_keys(store) == set()


async def test_large_batches_and_many_variables_are_written_whole(store, clock):
    """Beyond a few thousand values Lua's unpack() fails; the scripts write in chunks."""
    many = {f"v{i}": {"type": "Integer", "value": i} for i in range(5_000)}
    [wide] = await store.publish_many([NewTask("wide", many)])
    ids = await store.publish_many([NewTask("bulk") for _ in range(6_000)])
    assert len((await store.get(wide)).variables) == 5_000
    assert await store.topic_stats() == [
        TopicStats("bulk", 6_000, 0, 0, 0),
        TopicStats("wide", 1, 0, 0, 0),
    ]
    locked = await store.fetch_and_lock("w", 6_000, [TopicRequest("bulk", 1_000)])
    assert sorted(t.id for t in locked) == sorted(ids)
    results = await store.complete_many([Completion(t.id, "w") for t in locked])
    assert results == [None] * 6_000
    assert await store.topic_stats() == [TopicStats("wide", 1, 0, 0, 0)]
