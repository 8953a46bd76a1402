"""fetch_and_lock.lua, driven through Store.fetch_and_lock: the order in which it picks tasks
(priority, create time), its filters (business key, process variables, tenants, process
definitions) and the variables it returns."""

from __future__ import annotations

import pytest

from redtask.broker.model import NewTask, TopicRequest, TopicStats
from redtask.broker.store import Store
from tests.broker.scripts.helpers import ids_in_partition


async def publish_ordered(store: Store, clock, priorities: list[int]) -> list[str]:
    """One task per priority, 10 ms apart, all in partition 0 (so their order is exact)."""
    ids = ids_in_partition(store, len(priorities))
    for task_id, priority in zip(ids, priorities, strict=True):
        await store.publish(NewTask("t", priority=priority, id=task_id))
        clock.advance(10)
    return ids


async def fetch_ids(store: Store, topic: TopicRequest, **options) -> list[str]:
    return [t.id for t in await store.fetch_and_lock("w", 100, [topic], **options)]


# ------------------------------------------------------------------ ordering


async def test_use_priority_orders_by_priority_desc_then_create_time_asc(store, clock):
    a, b, c, d, e = await publish_ordered(store, clock, [0, 5, 5, 10, -1])

    assert await fetch_ids(store, TopicRequest("t", 1000), use_priority=True) == [d, b, c, a, e]


async def test_use_priority_picks_the_most_urgent_tasks_when_max_tasks_is_small(store, clock):
    a, b, c, d, e = await publish_ordered(store, clock, [0, 5, 5, 10, -1])

    first = await store.fetch_and_lock("w", 2, [TopicRequest("t", 1000)], use_priority=True)
    rest = await store.fetch_and_lock("w", 10, [TopicRequest("t", 1000)], use_priority=True)

    assert [t.id for t in first] == [d, b]
    assert [t.id for t in rest] == [c, a, e]


async def test_use_priority_with_create_time_asc_keeps_the_priority_first(store, clock):
    a, b, c, d, e = await publish_ordered(store, clock, [0, 5, 5, 10, -1])

    got = await fetch_ids(store, TopicRequest("t", 1000), use_priority=True, sort_create_time="asc")

    assert got == [d, b, c, a, e]


async def test_use_priority_with_create_time_desc_orders_equal_priorities_newest_first(
    store, clock
):
    a, b, c, d, e = await publish_ordered(store, clock, [0, 5, 5, 10, -1])

    got = await fetch_ids(
        store, TopicRequest("t", 1000), use_priority=True, sort_create_time="desc"
    )

    assert got == [d, c, b, a, e]


async def test_create_time_asc_without_priority_ignores_priority(store, clock):
    a, b, c, d, e = await publish_ordered(store, clock, [0, 5, 5, 10, -1])

    got = await fetch_ids(store, TopicRequest("t", 1000), sort_create_time="asc")

    assert got == [a, b, c, d, e]


async def test_create_time_desc_without_priority_returns_the_newest_first(store, clock):
    a, b, c, d, e = await publish_ordered(store, clock, [0, 5, 5, 10, -1])

    got = await fetch_ids(store, TopicRequest("t", 1000), sort_create_time="desc")

    assert got == [e, d, c, b, a]


@pytest.mark.parametrize(
    ("options", "newest_first"),
    [
        ({}, False),
        ({"use_priority": True}, False),
        ({"sort_create_time": "asc"}, False),
        ({"sort_create_time": "desc"}, True),
        ({"use_priority": True, "sort_create_time": "desc"}, True),
    ],
)
async def test_one_level_of_one_topic_is_taken_in_create_time_order_then_by_id(
    store, clock, options, newest_first
):
    # one topic, one priority level, no filter: the script's short path, which must pick as
    # the general merge does (create time, then id, both reversed for desc)
    ids = ids_in_partition(store, 6)
    for n, task_id in enumerate(ids):
        await store.publish(NewTask("t", priority=3, id=task_id))
        if n % 2:  # two tasks per create time
            clock.advance(10)
    expected = [i for pair in zip(ids[::2], ids[1::2], strict=True) for i in sorted(pair)]
    if newest_first:
        expected.reverse()

    first = await store.fetch_and_lock("w", 4, [TopicRequest("t", 1000)], **options)
    rest = await store.fetch_and_lock("w", 4, [TopicRequest("t", 1000)], **options)

    assert [t.id for t in first] == expected[:4]
    assert [t.id for t in rest] == expected[4:]


async def test_create_time_order_spans_several_topics(store, clock):
    ids = ids_in_partition(store, 3)
    for task_id, topic in zip(ids, ["x", "y", "x"], strict=True):
        await store.publish(NewTask(topic, id=task_id))
        clock.advance(5)

    got = await store.fetch_and_lock(
        "w", 10, [TopicRequest("y", 1000), TopicRequest("x", 1000)], sort_create_time="desc"
    )

    assert [t.id for t in got] == [ids[2], ids[1], ids[0]]


async def test_use_priority_tells_apart_priorities_beyond_double_precision(store, clock):
    lower, higher = ids_in_partition(store, 2)
    await store.publish(NewTask("t", priority=2**62, id=lower))
    clock.advance(10)
    await store.publish(NewTask("t", priority=2**62 + 1, id=higher))

    got = await store.fetch_and_lock("w", 1, [TopicRequest("t", 1000)], use_priority=True)

    assert [t.id for t in got] == [higher]


# ------------------------------------------------------------------ filters


async def test_a_business_key_filter_fetches_only_tasks_with_that_key(store):
    wanted = await store.publish(NewTask("t", business_key="k1"))
    await store.publish_many([NewTask("t", business_key="k2"), NewTask("t")])

    assert await fetch_ids(store, TopicRequest("t", 1000, business_key="k1")) == [wanted]
    assert await store.topic_stats() == [TopicStats("t", 2, 1, 0, 0)]


async def test_process_variable_filters_are_or_ed_equality_on_plain_values(store):
    a_is_1 = await store.publish(NewTask("t", {"a": {"value": 1}}))
    b_is_x = await store.publish(NewTask("t", {"b": {"type": "String", "value": "x"}}))
    await store.publish(NewTask("t", {"a": {"value": 2}, "b": {"value": "y"}}))
    await store.publish(NewTask("t"))

    got = await fetch_ids(store, TopicRequest("t", 1000, process_variables={"a": 1, "b": "x"}))

    assert sorted(got) == sorted([a_is_1, b_is_x])
    assert await store.topic_stats() == [TopicStats("t", 2, 2, 0, 0)]


async def test_a_process_variable_filter_matches_booleans_and_ignores_other_types(store):
    flag = await store.publish(NewTask("t", {"ok": {"type": "Boolean", "value": True}}))
    await store.publish(NewTask("t", {"ok": {"type": "String", "value": "true"}}))
    await store.publish(NewTask("t", {"ok": {"type": "Boolean", "value": False}}))

    assert await fetch_ids(store, TopicRequest("t", 1000, process_variables={"ok": True})) == [flag]


async def test_a_process_variable_filter_compares_long_values_exactly(store):
    await store.publish(NewTask("t", {"n": {"type": "Long", "value": 2**62 + 1}}))

    assert await fetch_ids(store, TopicRequest("t", 1000, process_variables={"n": 2**62})) == []


async def test_tenant_id_in_fetches_only_tasks_of_those_tenants(store):
    t1 = await store.publish(NewTask("t", tenant_id="t1"))
    t2 = await store.publish(NewTask("t", tenant_id="t2"))
    await store.publish_many([NewTask("t", tenant_id="t3"), NewTask("t")])

    got = await fetch_ids(store, TopicRequest("t", 1000, tenant_id_in=("t1", "t2")))

    assert sorted(got) == sorted([t1, t2])


async def test_without_tenant_id_fetches_only_tasks_without_tenant(store):
    none = await store.publish(NewTask("t"))
    await store.publish(NewTask("t", tenant_id="t1"))

    assert await fetch_ids(store, TopicRequest("t", 1000, without_tenant_id=True)) == [none]


async def test_tenant_id_in_wins_over_without_tenant_id(store):
    await store.publish(NewTask("t"))
    t2 = await store.publish(NewTask("t", tenant_id="t2"))

    got = await fetch_ids(
        store, TopicRequest("t", 1000, tenant_id_in=("t2",), without_tenant_id=True)
    )

    assert got == [t2]


@pytest.mark.parametrize(
    "definition_filter",
    [
        {"process_definition_id": "def:1"},
        {"process_definition_id_in": ("def:1", "def:2")},
        {"process_definition_key": "def"},
        {"process_definition_key_in": ("def",)},
        {"process_definition_version_tag": "%"},
    ],
    ids=["id", "id_in", "key", "key_in", "version_tag"],
)
async def test_process_definition_filters_match_no_standalone_task(store, definition_filter):
    await store.publish_many([NewTask("t"), NewTask("t", business_key="b")])

    assert await fetch_ids(store, TopicRequest("t", 1000, **definition_filter)) == []
    assert await store.topic_stats() == [TopicStats("t", 2, 0, 0, 0)]


# ------------------------------------------------------------------ variables


async def fetch_variables(store: Store, variables: tuple[str, ...] | None) -> dict:
    task_id = await store.publish(
        NewTask("t", {"a": {"value": 1}, "b": {"type": "String", "value": "two"}})
    )
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("t", 1000, variables=variables)])
    assert task.id == task_id
    assert set((await store.get(task_id)).variables) == {"a", "b"}
    return task.variables


async def test_no_variable_selection_returns_every_variable(store):
    assert await fetch_variables(store, None) == {
        "a": {"type": "Integer", "value": 1, "valueInfo": {}},
        "b": {"type": "String", "value": "two", "valueInfo": {}},
    }


async def test_an_empty_variable_selection_returns_no_variables(store):
    assert await fetch_variables(store, ()) == {}


async def test_a_variable_selection_returns_only_the_named_variables(store):
    assert await fetch_variables(store, ("a", "missing")) == {
        "a": {"type": "Integer", "value": 1, "valueInfo": {}}
    }
