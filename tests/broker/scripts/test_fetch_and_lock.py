"""fetch_and_lock.lua, driven through Store.fetch_and_lock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from redtask.broker.errors import InvalidArgument
from redtask.broker.model import NewTask, TaskState, TopicRequest, TopicStats
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


# ------------------------------------------------------------------ locking


async def test_fetch_locks_a_task_for_the_worker_with_exact_fields(store, clock):
    task_id = await store.publish(NewTask("t", {"a": {"value": "x"}}, retries=4))
    before = await store.get(task_id)
    clock.advance(50)

    got = await store.fetch_and_lock("worker-1", 1, [TopicRequest("t", 1000)])

    expected = replace(
        before,
        state=TaskState.LOCKED,
        worker_id="worker-1",
        lock_expiration_time=clock.now + 1000,
        lock_token=1,
    )
    assert got == [expected]
    assert await store.get(task_id) == expected
    assert await store.topic_stats() == [TopicStats("t", 0, 1, 0, 0)]


async def test_a_locked_task_is_not_fetched_again_while_its_lock_is_valid(store, clock):
    await store.publish(NewTask("t"))
    await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])
    clock.advance(999)

    assert await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)]) == []


async def test_fetch_locks_at_most_max_tasks(store, clock):
    await store.publish_many([NewTask("t") for _ in range(5)])

    first = await store.fetch_and_lock("w", 3, [TopicRequest("t", 1000)])
    assert len(first) == 3
    assert await store.topic_stats() == [TopicStats("t", 2, 3, 0, 0)]

    rest = await store.fetch_and_lock("w", 10, [TopicRequest("t", 1000)])
    assert len(rest) == 2
    assert {t.id for t in first} & {t.id for t in rest} == set()
    assert await store.fetch_and_lock("w", 10, [TopicRequest("t", 1000)]) == []
    assert await store.topic_stats() == [TopicStats("t", 0, 5, 0, 0)]


async def test_fetch_collects_tasks_from_every_partition(store):
    ids = await store.publish_many([NewTask("t") for _ in range(12)])

    got = await store.fetch_and_lock("w", 12, [TopicRequest("t", 1000)])

    assert sorted(t.id for t in got) == sorted(ids)


async def test_max_tasks_zero_returns_nothing_and_locks_nothing(store):
    await store.publish(NewTask("t"))

    assert await store.fetch_and_lock("w", 0, [TopicRequest("t", 1000)]) == []
    assert await store.topic_stats() == [TopicStats("t", 1, 0, 0, 0)]


async def test_negative_max_tasks_is_invalid(store):
    await store.publish(NewTask("t"))

    with pytest.raises(InvalidArgument) as caught:
        await store.fetch_and_lock("w", -1, [TopicRequest("t", 1000)])

    assert str(caught.value) == "maxTasks is out of range [0, 9223372036854775807]"
    assert await store.topic_stats() == [TopicStats("t", 1, 0, 0, 0)]


@pytest.mark.parametrize("duration", [0, -1])
async def test_a_lock_duration_not_above_zero_is_invalid_and_locks_nothing(store, duration):
    await store.publish_many([NewTask("t"), NewTask("u")])

    with pytest.raises(InvalidArgument) as caught:
        await store.fetch_and_lock("w", 5, [TopicRequest("u", 1000), TopicRequest("t", duration)])

    assert str(caught.value) == "lockTime is not greater than 0"
    assert await store.topic_stats() == [TopicStats("t", 1, 0, 0, 0), TopicStats("u", 1, 0, 0, 0)]


async def test_a_missing_worker_id_is_invalid(store):
    await store.publish(NewTask("t"))

    with pytest.raises(InvalidArgument) as caught:
        await store.fetch_and_lock(None, 1, [TopicRequest("t", 1000)])  # type: ignore[arg-type]

    assert str(caught.value) == "workerId is null"


async def test_no_topics_or_an_unknown_topic_fetch_nothing(store):
    await store.publish(NewTask("t"))

    assert await store.fetch_and_lock("w", 5, []) == []
    assert await store.fetch_and_lock("w", 5, [TopicRequest("nobody-publishes-this", 1000)]) == []
    assert await store.topic_stats() == [TopicStats("t", 1, 0, 0, 0)]


# ------------------------------------------------------------------ topics


async def test_one_fetch_serves_several_topics_each_with_its_own_lock_duration(store, clock):
    a = await store.publish(NewTask("a"))
    b = await store.publish(NewTask("b"))
    c = await store.publish(NewTask("c"))

    got = await store.fetch_and_lock("w", 10, [TopicRequest("a", 1000), TopicRequest("b", 5000)])

    assert {t.id: t.lock_expiration_time for t in got} == {
        a: clock.now + 1000,
        b: clock.now + 5000,
    }
    assert (await store.get(c)).state == TaskState.AVAILABLE
    assert await store.topic_stats() == [
        TopicStats("a", 0, 1, 0, 0),
        TopicStats("b", 0, 1, 0, 0),
        TopicStats("c", 1, 0, 0, 0),
    ]


async def test_a_later_duplicate_topic_name_replaces_the_earlier_one(store, clock):
    task_id = await store.publish(NewTask("t", business_key="real"))

    got = await store.fetch_and_lock(
        "w", 5, [TopicRequest("t", 1000, business_key="other"), TopicRequest("t", 5000)]
    )

    assert [(t.id, t.lock_expiration_time) for t in got] == [(task_id, clock.now + 5000)]


async def test_the_filter_of_a_later_duplicate_topic_applies(store):
    await store.publish(NewTask("t", business_key="real"))

    got = await store.fetch_and_lock(
        "w", 5, [TopicRequest("t", 5000), TopicRequest("t", 1000, business_key="other")]
    )

    assert got == []
    assert await store.topic_stats() == [TopicStats("t", 1, 0, 0, 0)]


async def test_an_invalid_lock_duration_of_a_replaced_topic_is_ignored(store, clock):
    task_id = await store.publish(NewTask("t"))

    got = await store.fetch_and_lock("w", 5, [TopicRequest("t", 0), TopicRequest("t", 1000)])

    assert [(t.id, t.lock_expiration_time) for t in got] == [(task_id, clock.now + 1000)]


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


# ------------------------------------------------------------------ leases and retries


async def test_an_expired_lock_is_refetched_without_a_scheduler_with_a_bigger_token(store, clock):
    task_id = await store.publish(NewTask("t"))
    [first] = await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])
    clock.advance(999)
    assert await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)]) == []

    clock.advance(1)
    [second] = await store.fetch_and_lock("w2", 1, [TopicRequest("t", 2000)])

    assert second == replace(
        first, worker_id="w2", lock_expiration_time=clock.now + 2000, lock_token=2
    )
    assert second.id == task_id
    assert await store.topic_stats() == [TopicStats("t", 0, 1, 0, 0)]


async def test_a_task_waiting_out_its_retry_timeout_is_fetchable_only_when_due(store, clock):
    task_id = await store.publish(NewTask("t"))
    await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])
    await store.handle_failure(task_id, "w1", "boom", "trace", 2, 5000)
    clock.advance(4999)
    assert await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)]) == []

    clock.advance(1)
    [task] = await store.fetch_and_lock("w2", 1, [TopicRequest("t", 1000)])

    assert (task.id, task.state, task.worker_id, task.lock_token) == (
        task_id,
        TaskState.LOCKED,
        "w2",
        2,
    )
    assert (task.retries, task.error_message, task.error_details) == (2, "boom", "trace")


async def test_a_task_with_zero_retries_is_never_fetchable(store, clock):
    task_id = await store.publish(NewTask("t"))
    await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])
    await store.handle_failure(task_id, "w1", "boom", None, 0, 0)
    clock.advance(10**9)
    await store.sweep()

    assert await store.fetch_and_lock("w2", 5, [TopicRequest("t", 1000)]) == []
    assert (await store.get(task_id)).state == TaskState.INCIDENT
    assert await store.topic_stats() == [TopicStats("t", 0, 0, 0, 1)]


async def test_a_task_set_to_zero_retries_before_any_lock_is_not_fetchable(store):
    task_id = await store.publish(NewTask("t"))
    await store.set_retries(task_id, 0)

    assert await store.fetch_and_lock("w", 5, [TopicRequest("t", 1000)]) == []
    assert await store.topic_stats() == [TopicStats("t", 0, 0, 0, 1)]
