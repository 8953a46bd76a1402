"""trim_history.lua (the scheduler's pass) and the trim advance.lua does at each instance end:
the ended-instance index ``pih`` stays bounded by the history retention."""

from __future__ import annotations

from redtask.broker.history import HistoryQuery
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
