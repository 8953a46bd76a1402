"""trim_history.lua (the scheduler's pass) and the trim advance.lua does at each instance end:
the ended-instance index ``pih`` stays bounded by the history retention."""

from __future__ import annotations

from redtask.broker.history import HistoryQuery
from redtask.broker.model import TopicRequest
from redtask.broker.store import Store
from tests.broker.scripts.helpers import ids_in_partition
from tests.broker.test_instances import model, serve_models
from tests.conftest import START_MS, FakeClock

TTL_MS = 7 * 24 * 3600 * 1000  # the default history_ttl_s


async def _running(store: Store) -> str:
    flow = model("simple")
    serve_models(store, flow)
    state, _ = await store.start_instance(flow, "order:1:test")
    return state.instance_id


async def _ended_index(store: Store) -> list[str]:
    out: list[str] = []
    for p in range(store.keys.partitions):
        out += await store.redis.zrange(store.keys.history(p), 0, -1)
    return out


async def _seed_ended(store: Store, partition: int, n: int, ended_ms: int) -> list[str]:
    """``n`` ended instances in ``partition`` as advance.lua leaves them (ended_ms, +1, ...)."""
    ids = ids_in_partition(store, n, partition)
    for offset, instance_id in enumerate(ids):
        key = store.keys.instance(instance_id)
        await store.redis.hset(key, mapping={"status": "completed", "end": ended_ms + offset})
        await store.redis.zadd(store.keys.history(partition), {instance_id: ended_ms + offset})
    return ids


async def test_an_ended_instance_is_forgotten_once_its_retention_passed(
    store: Store, clock: FakeClock
) -> None:
    instance_id = await _running(store)
    clock.advance(1000)
    await store.cancel_instance(instance_id)
    assert await _ended_index(store) == [instance_id]

    clock.advance(TTL_MS - 1)
    assert await store.trim_history() == (0, False)
    [kept] = await store.query_history(HistoryQuery())
    assert (kept.id, kept.state, kept.end) == (
        instance_id,
        "EXTERNALLY_TERMINATED",
        START_MS + 1000,
    )

    clock.advance(1)  # now = end + TTL
    assert await store.trim_history() == (1, False)
    assert await _ended_index(store) == []
    assert await store.redis.exists(store.keys.instance(instance_id)) == 0
    assert await store.query_history(HistoryQuery()) == []
    assert await store.query_history(HistoryQuery(finished=True)) == []
    assert await store.query_history(HistoryQuery(process_instance_id=instance_id)) == []
    assert await store.get_historic_instance(instance_id) is None
    assert await store.trim_history() == (0, False)


async def test_each_instance_end_forgets_up_to_ten_expired_ones_without_a_scheduler(
    store: Store, clock: FakeClock
) -> None:
    instance_id = await _running(store)
    partition = store.keys.partition_of(instance_id)
    old = await _seed_ended(store, partition, 12, START_MS - TTL_MS - 100)
    young = await _seed_ended(store, partition, 1, START_MS - TTL_MS + 1)

    await store.cancel_instance(instance_id)

    assert await store.redis.zrange(store.keys.history(partition), 0, -1) == [
        old[10],
        old[11],
        young[0],
        instance_id,
    ]
    gone = [await store.redis.exists(store.keys.instance(i)) for i in old]
    assert gone == [0] * 10 + [1, 1]
    assert await store.trim_history() == (2, False)  # the scheduler's pass takes the rest
    assert await store.redis.zrange(store.keys.history(partition), 0, -1) == [
        young[0],
        instance_id,
    ]


async def test_each_call_forgets_at_most_its_budget_per_partition(
    store: Store, clock: FakeClock
) -> None:
    ids = await _seed_ended(store, 0, 5, START_MS - TTL_MS - 5)

    assert await store.trim_history(budget=2) == (2, True)
    assert await store.trim_history(budget=2) == (2, True)
    assert await store.trim_history(budget=2) == (1, False)
    assert await _ended_index(store) == []
    assert [await store.redis.exists(store.keys.instance(i)) for i in ids] == [0] * 5


async def test_a_hash_that_runs_is_never_deleted(store: Store) -> None:
    [stray] = await _seed_ended(store, 0, 1, START_MS - TTL_MS)
    await store.redis.hset(store.keys.instance(stray), "status", "active")

    assert await store.trim_history() == (1, False)
    assert await _ended_index(store) == []
    assert await store.redis.hget(store.keys.instance(stray), "status") == "active"


async def _history_keys(store: Store, instance_id: str) -> list[str]:
    keys = store.keys
    return [
        keys.instance(instance_id),
        keys.activities(instance_id),
        keys.task_log(instance_id),
        keys.incident_history(instance_id),
    ]


async def test_the_activities_task_log_and_incidents_of_an_instance_go_with_it(
    store: Store, clock: FakeClock
) -> None:
    """Every history record of an instance carries its EXPIRE and is deleted with it."""
    instance_id = await _running(store)
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("charge-card", 60_000)])
    await store.handle_failure(task.id, "w", "broken", None, retries=0, retry_timeout=0)
    await store.set_retries(task.id, 1)  # resolves the incident: kept in the history
    clock.advance(1000)
    await store.cancel_instance(instance_id)
    keys = await _history_keys(store, instance_id)
    assert await store.redis.exists(*keys) == 4
    for key in keys:
        assert 0 < await store.redis.ttl(key) <= TTL_MS // 1000

    clock.advance(TTL_MS)
    assert await store.trim_history() == (1, False)
    assert await store.redis.exists(*keys) == 0


async def test_without_retention_an_ended_instance_keeps_no_history(
    store: Store, clock: FakeClock
) -> None:
    store.settings.history_ttl_s = 0
    instance_id = await _running(store)
    await store.cancel_instance(instance_id)
    assert await store.redis.exists(*await _history_keys(store, instance_id)) == 0
