"""fetch_and_lock.lua's processDefinitionVersionTag LIKE: exact, and bounded on hostile patterns."""

from __future__ import annotations

import pytest
from redis.asyncio.cluster import RedisCluster

from redtask.broker.connection import client_for
from redtask.broker.embedded import EmbeddedRedis
from redtask.broker.like import like
from redtask.broker.model import NewTask, TopicRequest
from redtask.broker.store import Store

TAGS = ["v1.0", "v1x0", "release-2024.1", "release-2025.1", "a%b", "a_b", "(x)", "", "aaaa"]


async def tagged(store: Store, tags: list[str]) -> dict[str, str]:
    """Standalone tasks given a version tag directly, as a process task carries its own."""
    ids = await store.publish_many([NewTask("t") for _ in tags])
    async with store.redis.pipeline(transaction=False) as pipe:
        for task_id, tag in zip(ids, tags, strict=True):
            pipe.hset(store.keys.task(task_id), "pvt", tag)
        await pipe.execute()
    return dict(zip(ids, tags, strict=True))


@pytest.mark.parametrize(
    "pattern",
    ["v1.0", "v1_0", "release-%", "%.1", "%202_%", "a%b", "a_b", "(x)", "%", "", "%a%a%", "____"],
)
async def test_the_version_tag_filter_matches_exactly_what_like_matches(store, pattern):
    tasks = await tagged(store, TAGS)

    got = await store.fetch_and_lock(
        "w", 100, [TopicRequest("t", 1000, process_definition_version_tag=pattern)]
    )

    assert sorted(t.id for t in got) == sorted(i for i, tag in tasks.items() if like(tag, pattern))


async def script_stats(store: Store) -> tuple[int, int]:
    """Script calls and microseconds spent in them so far, from Redis' own accounting (in a
    cluster, summed over the masters)."""
    if isinstance(store.redis, RedisCluster):
        per_node = await store.redis.info("commandstats", target_nodes=RedisCluster.PRIMARIES)
        nodes = list(per_node.values())
    else:
        nodes = [await store.redis.info("commandstats")]
    scripts = [v for n in nodes for k, v in n.items() if k in ("cmdstat_evalsha", "cmdstat_eval")]
    return sum(int(v["calls"]) for v in scripts), sum(int(v["usec"]) for v in scripts)


@pytest.mark.slow
@pytest.mark.parametrize(
    "pattern",
    ["%%%%%%%%b", "%" * 2_000 + "b", "%a" * 1_000 + "%b", "%" + "a_" * 1_000 + "b%"],
    ids=["issue", "percents", "percent-a", "a-underscore"],
)
async def test_a_hostile_version_tag_pattern_over_10k_waiting_tasks_takes_under_50ms(
    settings, clock, tmp_path, pattern
):
    # a server of its own: Redis' command statistics are server-wide, and other clients of a
    # shared server (a session gateway's scheduler, say) would add their calls
    with EmbeddedRedis(tmp_path / "redis") as server:
        store = Store(client_for(server.url), settings, clock)
        try:
            await _hostile_pattern_run(store, pattern)
        finally:
            await store.close()


async def _hostile_pattern_run(store: Store, pattern: str) -> None:
    await tagged(store, ["a" * 40] * 10_000)
    per_call = []
    for _ in range(3):  # the best of three: the script's own cost, not the shared machine's load
        calls_before, usec_before = await script_stats(store)

        got = await store.fetch_and_lock(
            "w", 10, [TopicRequest("t", 1000, process_definition_version_tag=pattern)]
        )

        assert got == []
        calls, usec = await script_stats(store)
        # one call per partition, each scanning up to fetch_scan_budget (2,000) of its tasks
        assert calls - calls_before == store.keys.partitions
        per_call.append((usec - usec_before) / store.keys.partitions)
    assert min(per_call) < 50_000
