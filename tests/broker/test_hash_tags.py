"""Hash tags: the spread scheme puts partitions evenly on a cluster's slot ranges, and a
namespace keeps the scheme it was created with (older namespaces keep ``{ns:p}``)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from redtask.broker.connection import client_for, ensure_partitions
from redtask.broker.keys import SLOTS, Keys, key_slot, spread_tags
from redtask.broker.model import NewTask, TopicRequest
from redtask.broker.settings import Settings
from redtask.broker.store import Store, open_store


def redis_cli_ranges(masters: int) -> list[tuple[int, int]]:
    """The slot ranges `redis-cli --cluster create` gives ``masters`` masters (its own
    arithmetic: slots_per_node = 16384 / masters, rounded ends)."""
    per = SLOTS / masters
    ranges, first, cursor = [], 0, 0.0
    for i in range(masters):
        last = round(cursor + per - 1)
        if last > SLOTS - 1 or i == masters - 1:
            last = SLOTS - 1
        ranges.append((first, last))
        first, cursor = last + 1, cursor + per
    return ranges


def per_master(keys: Keys, masters: int) -> list[int]:
    ranges = redis_cli_ranges(masters)
    counts = Counter(
        next(i for i, (lo, hi) in enumerate(ranges) if lo <= key_slot(keys.prefix(p)[1:-2]) <= hi)
        for p in range(keys.partitions)
    )
    return [counts[i] for i in range(masters)]


@pytest.mark.parametrize("partitions", [1, 2, 3, 5, 8, 16, 100, 1024])
def test_each_spread_tag_lands_in_the_middle_half_of_its_slot_range(partitions: int) -> None:
    tags = spread_tags("redtask", partitions)
    assert len(set(tags)) == partitions
    for p, tag in enumerate(tags):
        low, high = p * SLOTS // partitions, (p + 1) * SLOTS // partitions
        quarter = (high - low) // 4
        assert low + quarter <= key_slot(tag) <= high - 1 - quarter, (p, tag)
        assert tag == f"redtask:{p}" or tag.startswith(f"redtask:{p}.")
    assert spread_tags.__wrapped__("redtask", partitions) == tags  # deterministic


@pytest.mark.parametrize("masters", [1, 2, 3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("per_node", [1, 2, 3, 4])
def test_k_times_m_partitions_put_k_on_each_of_m_masters(masters: int, per_node: int) -> None:
    keys = Keys("redtask", masters * per_node)
    assert per_master(keys, masters) == [per_node] * masters


def test_eight_partitions_on_three_masters_spread_3_3_2_where_legacy_tags_give_4_2_2() -> None:
    assert per_master(Keys("redtask", 8), 3) == [3, 2, 3]
    assert per_master(Keys("redtask", 8, "legacy"), 3) == [4, 2, 2]


def test_legacy_tags_are_the_original_key_names() -> None:
    keys = Keys("ns", 4, "legacy")
    assert [keys.prefix(p) for p in range(4)] == ["{ns:0}:", "{ns:1}:", "{ns:2}:", "{ns:3}:"]
    assert keys.task("abc") == f"{{ns:{keys.partition_of('abc')}}}:t:abc"


async def test_a_new_namespace_records_spread_tags_and_concurrent_starts_agree(
    redis_url: str, namespace: str
) -> None:
    client = client_for(redis_url)
    try:
        got = await asyncio.gather(
            *(ensure_partitions(client, Keys(namespace, 4)) for _ in range(8))
        )
        assert {k.tags for k in got} == {"spread"}
        assert await client.hgetall(f"{namespace}:config") == {"partitions": "4", "tags": "spread"}
    finally:
        await client.delete(f"{namespace}:config")
        await client.aclose()


async def test_a_namespace_created_before_spread_tags_keeps_its_keys_readable(
    redis_url: str, namespace: str
) -> None:
    """Its config has no ``tags`` field: open_store uses ``{ns:p}`` and finds its tasks."""
    client = client_for(redis_url)
    settings = Settings(redis_url=redis_url, namespace=namespace, partitions=4)
    try:
        await client.hset(f"{namespace}:config", "partitions", 4)  # as older versions wrote it
        old = Store(client, settings, keys=Keys(namespace, 4, "legacy"))
        ids = await old.publish_many([NewTask(topic="t", variables={}) for _ in range(20)])
        assert await client.exists(f"{{{namespace}:0}}:topics") == 1
        store = await open_store(settings)
        try:
            assert store.keys == Keys(namespace, 4, "legacy")
            tasks = await store.fetch_and_lock("w", 50, [TopicRequest("t", 1000)])
            assert sorted(t.id for t in tasks) == sorted(ids)
        finally:
            await store.close()
        assert await client.hgetall(f"{namespace}:config") == {"partitions": "4"}
    finally:
        keys = [k async for k in client.scan_iter(match=f"*{namespace}*")]
        await client.delete(*keys)
        await client.aclose()


async def test_an_unknown_recorded_scheme_is_refused(redis_url: str, namespace: str) -> None:
    client = client_for(redis_url)
    try:
        await client.hset(f"{namespace}:config", mapping={"partitions": 1, "tags": "v9"})
        with pytest.raises(Exception, match="records unknown tags 'v9'"):
            await ensure_partitions(client, Keys(namespace, 1))
    finally:
        await client.delete(f"{namespace}:config")
        await client.aclose()
