"""fetch_and_lock.lua, driven through Store.fetch_and_lock: locking, the topics of one fetch, and
expired leases and retries. tests/broker/scripts/test_fetch_and_lock_selection.py: the order
of what it fetches, its filters and its variable selection."""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest

from redtask.broker.errors import InvalidArgument
from redtask.broker.model import NewTask, TaskState, TopicRequest, TopicStats
from tests.broker.scripts.helpers import ids_in_partition

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


async def test_the_scripts_reply_is_one_flat_array_of_ids_counts_and_fields(store, clock):
    # nested arrays in a script's reply cost Redis 6.2 a write(2) each: the reply stays flat
    first, second = ids_in_partition(store, 2)
    await store.publish(NewTask("t", id=first))
    clock.advance(10)
    await store.publish(NewTask("t", {"a": {"value": 1}}, id=second, business_key="k"))
    spec = '[{"topic": "t", "lock": "1000", "f": null}]'

    reply = await store.db.call(
        "fetch_and_lock", store.keys.prefix(0), clock.now, "w", 5, "prio", 100, 100, spec
    )

    assert not any(isinstance(item, list) for item in reply)
    assert reply[:4] == [0, 2, first, 12]
    assert dict(zip(reply[4:16:2], reply[5:16:2], strict=True)) == {
        "t": "t",
        "ct": str(clock.now - 10),
        "s": "l",
        "tok": "1",
        "w": "w",
        "le": str(clock.now + 1000),
    }
    assert reply[16] == second
    assert len(reply) == 18 + int(reply[17])
    fields = dict(zip(reply[18::2], reply[19::2], strict=True))
    assert (fields["bk"], fields["tok"], fields["w"]) == ("k", "1", "w")
    assert orjson.loads(fields["v.a"])["value"] == 1


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


# ------------------------------------------------------------------ topics


async def test_no_topics_or_an_unknown_topic_fetch_nothing(store):
    await store.publish(NewTask("t"))

    assert await store.fetch_and_lock("w", 5, []) == []
    assert await store.fetch_and_lock("w", 5, [TopicRequest("nobody-publishes-this", 1000)]) == []
    assert await store.topic_stats() == [TopicStats("t", 1, 0, 0, 0)]


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
