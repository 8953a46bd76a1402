"""(c) and (d) of the core benchmark: fetch_and_lock(1) latency on a small and a big topic,
and Redis memory per waiting task."""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from typing import Any

import redis.asyncio as aioredis

from bench.common import delete_namespace, log, percentile, wait_persistence_idle
from bench.core_results import Profile, Results
from redtask.broker.model import NewTask, TopicRequest
from redtask.broker.store import Store

LOCK_MS = 30_000


async def info_field(client: aioredis.Redis, section: str, name: str) -> Any:
    return (await client.info(section)).get(name)


async def forks(client: aioredis.Redis) -> int:
    return int(await info_field(client, "stats", "total_forks") or 0)


async def fill(store: Store, topic: str, n: int, batch: int, concurrency: int) -> list[str]:
    """Publish n variable-free tasks with `concurrency` batches in flight; returns a few ids."""
    sample: list[str] = []
    next_start = 0

    async def worker() -> None:
        nonlocal next_start
        while next_start < n:
            size = min(batch, n - next_start)
            next_start += size
            ids = await store.publish_many([NewTask(topic) for _ in range(size)])
            if len(sample) < 200:
                sample.append(ids[0])

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sample


async def fetch_latencies(store: Store, topic: str, samples: int, worker: str) -> list[float]:
    """ms per fetch_and_lock(maxTasks=1); each fetched task is unlocked (not timed)."""
    request = [TopicRequest(topic, LOCK_MS)]
    out: list[float] = []
    for _ in range(samples):
        t0 = time.perf_counter_ns()
        got = await store.fetch_and_lock(worker, 1, request)
        t1 = time.perf_counter_ns()
        if len(got) != 1:
            raise RuntimeError(f"fetch on {topic} returned {len(got)} tasks")
        await store.unlock(got[0].id)
        out.append((t1 - t0) / 1e6)
    return out


def lat_summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": percentile(values, 50),
        "p90_ms": percentile(values, 90),
        "p99_ms": percentile(values, 99),
        "max_ms": max(values),
        "mean_ms": statistics.fmean(values),
    }


async def run_latency_memory(
    store: Store, client: aioredis.Redis, prof: Profile, res: Results
) -> None:
    """(c) and (d). The headline compares a 1k-task topic with the big topic in alternating
    blocks (same moment, same server, so machine noise hits both alike). For reference the 1k
    topic is also measured with nothing else in Redis, before the fill and after it is gone."""
    small_topic, big_topic, worker = "lat-small", "lat-big", "lat-worker"

    async def measure_small_alone(label: str) -> list[float]:
        await store.publish_many([NewTask(small_topic) for _ in range(prof.small)])
        await wait_persistence_idle(client)
        await fetch_latencies(store, small_topic, prof.warmup, worker)
        gc.collect()
        forks0 = await forks(client)
        values = await fetch_latencies(store, small_topic, prof.samples // 2, worker)
        res.latency[label] = lat_summary(values) | {"forks_during": await forks(client) - forks0}
        log(f"fetch latency @{prof.small:,} ({label}): {res.latency[label]}")
        return values

    small_alone = await measure_small_alone("small_alone_before")

    # (d) memory: the big fill carries no variables
    waited = await wait_persistence_idle(client)
    await asyncio.sleep(1.0)  # let incremental rehashing of the keyspace settle
    mem_before = int(await info_field(client, "memory", "used_memory"))
    log(f"filling {prof.big:,} tasks ({prof.fill_concurrency} x batches of {prof.fill_batch})")
    forks0, t0 = await forks(client), time.perf_counter()
    sample_ids = await fill(store, big_topic, prof.big, prof.fill_batch, prof.fill_concurrency)
    fill_s = time.perf_counter() - t0
    waited_after = await wait_persistence_idle(client)
    await asyncio.sleep(1.0)
    mem_after = int(await info_field(client, "memory", "used_memory"))
    res.fill = {"tasks": prof.big, "seconds": fill_s, "tasks_per_s": prof.big / fill_s}
    res.memory = {
        "tasks": prof.big,
        "used_memory_before": mem_before,
        "used_memory_after": mem_after,
        "bytes_per_task": (mem_after - mem_before) / prof.big,
        "persistence_wait_before_s": waited,
        "persistence_wait_after_s": waited_after,
        "aof_enabled": await info_field(client, "persistence", "aof_enabled"),
        "aof_current_size": await info_field(client, "persistence", "aof_current_size"),
        "forks_during_fill": await forks(client) - forks0,
    }
    hash_usage = [
        await client.memory_usage(store.keys.task(i), samples=0) or 0 for i in sample_ids[:100]
    ]
    if hash_usage:  # MEMORY USAGE counts the key name and its dict entry too
        res.memory["task_hash_bytes"] = statistics.fmean(hash_usage)
    if store.keys.partitions == 1:
        avail_key = store.keys.avail(0, big_topic, 0)
        zset_bytes = await client.memory_usage(avail_key, samples=0) or 0
        res.memory["avail_zset_bytes_per_task"] = zset_bytes / prof.big
        res.memory["avail_zset_encoding"] = await client.object("encoding", avail_key)
    log(
        f"filled {prof.big:,} in {fill_s:.1f}s ({prof.big / fill_s:,.0f}/s); "
        f"{res.memory['bytes_per_task']:.0f} B/task (forks {res.memory['forks_during_fill']}, "
        f"waited {waited_after:.1f}s for persistence, AOF {res.memory['aof_current_size']} B)"
    )

    # big topic, in alternating blocks with the small topic (same noise for both)
    await fetch_latencies(store, big_topic, prof.warmup, worker)
    await fetch_latencies(store, small_topic, prof.warmup, worker)
    blocks = 10
    per_block = max(1, prof.samples // blocks)
    big: list[float] = []
    small_mixed: list[float] = []
    forks0 = await forks(client)
    for block in range(blocks):
        gc.collect()
        if block % 2:
            small_mixed += await fetch_latencies(store, small_topic, per_block, worker)
        big += await fetch_latencies(store, big_topic, per_block, worker)
        if not block % 2:
            small_mixed += await fetch_latencies(store, small_topic, per_block, worker)
    forks_during = await forks(client) - forks0
    res.latency["big"] = lat_summary(big) | {"forks_during": forks_during}
    res.latency["small_interleaved"] = lat_summary(small_mixed) | {"forks_during": forks_during}
    log(f"fetch latency @{prof.big:,}: {res.latency['big']}")
    log(f"fetch latency @{prof.small:,} (interleaved): {res.latency['small_interleaved']}")

    # drop everything, then the small point once more on an otherwise empty namespace
    t0 = time.perf_counter()
    deleted = await delete_namespace(client, store.settings.namespace)
    await client.hsetnx(store.keys.config, "partitions", store.keys.partitions)
    log(f"deleted {deleted:,} keys in {time.perf_counter() - t0:.1f}s")
    small_alone += await measure_small_alone("small_alone_after")
    res.latency["small_alone"] = lat_summary(small_alone)
