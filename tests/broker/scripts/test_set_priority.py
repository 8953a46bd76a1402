"""set_priority.lua, driven through Store.set_priority."""

from __future__ import annotations

from dataclasses import replace

import pytest

from redtask.broker.errors import InvalidArgument, TaskNotFound
from redtask.broker.model import NewTask, TopicRequest, TopicStats
from redtask.broker.store import Store
from tests.broker.scripts.helpers import ids_in_partition


async def publish_in_order(store: Store, clock, n: int, priority: int = 0) -> list[str]:
    """n tasks of topic t, 10 ms apart, in partition 0 (so fetch order is exact)."""
    ids = ids_in_partition(store, n)
    for task_id in ids:
        await store.publish(NewTask("t", priority=priority, id=task_id))
        clock.advance(10)
    return ids


async def priority_order(store: Store) -> list[str]:
    got = await store.fetch_and_lock("w", 100, [TopicRequest("t", 1000)], use_priority=True)
    return [t.id for t in got]


async def priority_levels(store: Store) -> list[str]:
    return await store.redis.zrange(store.keys.avail_levels(0, "t"), 0, -1)


async def test_raising_the_priority_moves_an_available_task_to_the_front(store, clock):
    a, b, c = await publish_in_order(store, clock, 3)
    before = await store.get(c)

    await store.set_priority(c, 10)

    assert await store.get(c) == replace(before, priority=10)
    assert await priority_levels(store) == ["10", "0"]
    assert await store.topic_stats() == [TopicStats("t", 3, 0, 0, 0)]
    assert await priority_order(store) == [c, a, b]


async def test_lowering_the_priority_moves_an_available_task_to_the_back(store, clock):
    a, b, c = await publish_in_order(store, clock, 3, priority=5)

    await store.set_priority(a, -1)

    assert await priority_levels(store) == ["5", "-1"]
    assert await priority_order(store) == [b, c, a]


async def test_moving_the_last_task_of_a_level_removes_that_level(store, clock):
    [a] = await publish_in_order(store, clock, 1, priority=3)

    await store.set_priority(a, 4)

    assert await priority_levels(store) == ["4"]
    assert await store.topic_stats() == [TopicStats("t", 1, 0, 0, 0)]


async def test_a_locked_task_returns_at_its_new_priority_when_its_lock_expires(store, clock):
    a, b, c = await publish_in_order(store, clock, 3)
    await store.lock(a, "w1", 1000)

    await store.set_priority(a, -5)

    assert (await store.get(a)).priority == -5
    assert await store.topic_stats() == [TopicStats("t", 2, 1, 0, 0)]
    clock.advance(1000)
    assert await priority_order(store) == [b, c, a]


async def test_setting_the_priority_of_an_unknown_task_raises_task_not_found(store):
    with pytest.raises(TaskNotFound) as caught:
        await store.set_priority("no-such-task", 3)

    assert caught.value.task_id == "no-such-task"


@pytest.mark.parametrize(
    ("priority", "message"),
    [
        ("5", "priority must be an integer"),
        (True, "priority must be an integer"),
        (2**63, "priority is out of range [-9223372036854775808, 9223372036854775807]"),
    ],
)
async def test_an_invalid_priority_is_refused_and_changes_nothing(store, priority, message):
    task_id = await store.publish(NewTask("t", priority=1))
    before = await store.get(task_id)

    with pytest.raises(InvalidArgument) as caught:
        await store.set_priority(task_id, priority)

    assert str(caught.value) == message
    assert await store.get(task_id) == before
