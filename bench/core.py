#!/usr/bin/env python
"""Core benchmark of the broker's Redis path: a measurement, not a test (always exits 0).

    .venv/bin/python bench/core.py [--quick] [--redis-url URL] [--json PATH]

Everything runs in one process against one Redis: a private EmbeddedRedis in a temporary
directory (the broker's own configuration: AOF everysec, noeviction) unless ``--redis-url``
is given. All keys live in a fresh namespace that is deleted at the end.

(a) raw Lua floor   minimal fetch(10) / complete scripts written here, EVALSHA through the
                    same asyncio client (``client_for``): per cycle one fetch of 10 ids, then
                    the 10 completes in one pipeline. Pre-filled (untimed) with N tasks.
(b) store path      ``Store.publish_many`` (batches of 100, timed) + ``fetch_and_lock(10)`` +
                    ``complete_many`` (10) until the topic is empty; tasks/s and (b)/(a).
                    (a) and (b) alternate for several rounds; medians are reported.
(c) fetch latency   ``fetch_and_lock(maxTasks=1)`` then ``unlock`` (queue size stays constant)
                    on a topic with 1k and one with 1M (``--quick``: 100k) waiting tasks,
                    measured in alternating blocks; also 1k with nothing else in Redis.
(d) memory          INFO used_memory before/after publishing the big fill (no variables).

Progress goes to stderr; the result table, machine description and command go to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402

from redtask.broker.connection import client_for  # noqa: E402
from redtask.broker.embedded import EmbeddedRedis  # noqa: E402
from redtask.broker.model import NewTask, TopicRequest  # noqa: E402
from redtask.broker.settings import Settings  # noqa: E402
from redtask.broker.store import Completion, Store, open_store  # noqa: E402

LOCK_MS = 30_000
FETCH_BATCH = 10

# (a) the floor: the least a fetch/complete pair can do with the same data shape.
RAW_FETCH = """
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then return ids end
redis.call('ZREM', KEYS[1], unpack(ids))
local za = {}
for i, id in ipairs(ids) do za[2 * i - 1] = ARGV[2]; za[2 * i] = id end
redis.call('ZADD', KEYS[2], unpack(za))
return ids
"""
RAW_COMPLETE = """
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('DEL', KEYS[2])
"""


@dataclass
class Profile:
    rounds: int
    ab_tasks: int  # tasks per (a) round and per (b) round
    small: int  # waiting tasks for the small latency point
    big: int  # waiting tasks for the big latency point / memory fill
    samples: int  # latency samples per point
    warmup: int
    fill_batch: int = 1000
    fill_concurrency: int = 4


FULL = Profile(rounds=10, ab_tasks=10_000, small=1_000, big=1_000_000, samples=5_000, warmup=300)
QUICK = Profile(rounds=4, ab_tasks=4_000, small=1_000, big=100_000, samples=2_000, warmup=200)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# ---------------------------------------------------------------------------------- redis helpers
async def info_field(client: aioredis.Redis, section: str, name: str) -> Any:
    return (await client.info(section)).get(name)


async def wait_persistence_idle(client: aioredis.Redis, limit_s: float = 180.0) -> float:
    """Wait until no AOF rewrite / RDB save runs (a forked child skews timing and memory)."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit_s:
        p = await client.info("persistence")
        busy = (
            p.get("aof_rewrite_in_progress", 0)
            or p.get("aof_rewrite_scheduled", 0)
            or p.get("rdb_bgsave_in_progress", 0)
        )
        if not busy:
            return time.perf_counter() - start
        await asyncio.sleep(0.1)
    log(f"warning: persistence still busy after {limit_s:.0f}s")
    return time.perf_counter() - start


async def delete_namespace(client: aioredis.Redis, ns: str) -> int:
    """UNLINK every key whose name contains the namespace; returns how many."""
    deleted, cursor = 0, 0
    while True:
        cursor, keys = await client.scan(cursor, match=f"*{ns}*", count=10_000)
        if keys:
            deleted += await client.unlink(*keys)
        if cursor == 0:
            return deleted


async def forks(client: aioredis.Redis) -> int:
    return int(await info_field(client, "stats", "total_forks") or 0)


# ---------------------------------------------------------------------------------- (a) raw floor
async def raw_round(
    client: aioredis.Redis, ns: str, n: int, round_no: int, *, timed_fill: bool = False
) -> dict[str, float]:
    """The floor: fetch 10 ids / complete each, over n pre-filled tasks. ``timed_fill`` starts
    the clock before the fill (publish -> fetch -> complete end to end)."""
    prefix = f"{{{ns}:raw}}:"
    queue, locked = f"{prefix}q:{round_no}", f"{prefix}l:{round_no}"
    fetch_sha = await client.script_load(RAW_FETCH)
    complete_sha = await client.script_load(RAW_COMPLETE)
    gc.collect()
    t_fill = time.perf_counter()
    now = time.time_ns() // 1_000_000
    ids = [str(uuid.uuid4()) for _ in range(n)]
    for part in chunks(ids, 1000):
        async with client.pipeline(transaction=False) as pipe:
            for task_id in part:  # same hash shape as publish.lua writes for a bare task
                pipe.hset(
                    f"{prefix}t:{task_id}",
                    mapping={"t": f"raw-{round_no}", "ct": now, "p": "0", "s": "a"},
                )
            pipe.zadd(queue, dict.fromkeys(part, now))
            await pipe.execute()
    if not timed_fill:
        gc.collect()
    done = 0
    t0 = t_fill if timed_fill else time.perf_counter()
    while True:
        lease = time.time_ns() // 1_000_000 + LOCK_MS
        got = await client.evalsha(fetch_sha, 2, queue, locked, FETCH_BATCH, lease)
        if not got:
            break
        async with client.pipeline(transaction=False) as pipe:
            for task_id in got:
                pipe.evalsha(complete_sha, 2, locked, f"{prefix}t:{task_id}", task_id)
            replies = await pipe.execute()
        if any(r != 1 for r in replies):
            raise RuntimeError(f"raw complete failed: {replies}")
        done += len(got)
    elapsed = time.perf_counter() - t0
    if done != n:
        raise RuntimeError(f"raw round consumed {done} of {n} tasks")
    return {"tasks": n, "seconds": elapsed, "tasks_per_s": n / elapsed}


# ---------------------------------------------------------------------------------- (b) store path
async def store_round(store: Store, n: int, round_no: int) -> dict[str, float]:
    topic, worker = f"ab-{round_no}", f"bench-worker-{round_no}"
    tasks = [NewTask(topic) for _ in range(n)]
    request = [TopicRequest(topic, LOCK_MS)]
    gc.collect()
    t0 = time.perf_counter()
    for part in chunks(tasks, 100):
        await store.publish_many(part)
    t1 = time.perf_counter()
    done = 0
    while True:
        got = await store.fetch_and_lock(worker, FETCH_BATCH, request)
        if not got:
            break
        results = await store.complete_many([Completion(t.id, worker) for t in got])
        errors = [r for r in results if r is not None]
        if errors:
            raise RuntimeError(f"complete_many failed: {errors[:3]}")
        done += len(got)
    t2 = time.perf_counter()
    if done != n:
        raise RuntimeError(f"store round consumed {done} of {n} tasks")
    return {
        "tasks": n,
        "seconds": t2 - t0,
        "publish_seconds": t1 - t0,
        "consume_seconds": t2 - t1,
        "tasks_per_s": n / (t2 - t0),
        "publish_per_s": n / (t1 - t0),
        "consume_per_s": n / (t2 - t1),
    }


# ---------------------------------------------------------------------------------- (c) latency
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


# ---------------------------------------------------------------------------------- machine
def machine_description(server_info: dict[str, Any]) -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    try:
        import hiredis

        hiredis_version = getattr(hiredis, "__version__", "yes")
    except ImportError:
        hiredis_version = "not installed"
    mode = "embedded (AOF everysec)" if server_info.get("_embedded") else "external"
    try:  # read-only: which code was measured
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "broker"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
        revision = head + (" (broker/ has uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        revision = "unknown"
    return {
        "git": revision,
        "nproc": nproc,
        "cpu_model": cpu,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "redis_server": server_info.get("redis_version"),
        "redis_server_mode": mode,
        "redis_py": redis.__version__,
        "hiredis": hiredis_version,
        "loadavg_at_start": os.getloadavg(),
    }


# ---------------------------------------------------------------------------------- main
@dataclass
class Results:
    command: str
    profile: dict[str, Any]
    machine: dict[str, Any] = field(default_factory=dict)
    raw_rounds: list[dict[str, float]] = field(default_factory=list)
    store_rounds: list[dict[str, float]] = field(default_factory=list)
    latency: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    fill: dict[str, Any] = field(default_factory=dict)
    wall_seconds: float = 0.0
    error: str | None = None
    rows: list[dict[str, str]] = field(default_factory=list)


async def run(args: argparse.Namespace, url: str, embedded: bool, res: Results) -> None:
    prof = QUICK if args.quick else FULL
    if args.rounds:
        prof.rounds = args.rounds
    if args.tasks:
        prof.ab_tasks = args.tasks
    if args.big:
        prof.big = args.big
    res.profile = asdict(prof) | {"partitions": args.partitions}
    ns = f"rb{uuid.uuid4().hex[:5]}"  # as long as the default "redtask"
    settings = Settings(redis_url=url, namespace=ns, partitions=args.partitions)
    store = await open_store(settings)
    raw_client = client_for(url)  # the floor gets its own client of the same kind
    try:
        server_info = await raw_client.info("server")
        server_info["_embedded"] = embedded
        res.machine = machine_description(server_info)
        log(f"redis {server_info.get('redis_version')} at {url}, namespace {ns}, profile {prof}")
        await run_ab(store, raw_client, ns, prof, res)
        if args.profile:
            await profile_store_round(store, prof)
        await delete_namespace(raw_client, ns)
        await store.redis.hsetnx(store.keys.config, "partitions", args.partitions)
        await run_latency_memory(store, raw_client, prof, res)
    finally:
        t0 = time.perf_counter()
        try:
            n = await delete_namespace(raw_client, ns)
            log(f"deleted {n} keys of namespace {ns} in {time.perf_counter() - t0:.1f}s")
        finally:
            await raw_client.aclose()
            await store.close()


async def run_ab(
    store: Store, raw_client: aioredis.Redis, ns: str, prof: Profile, res: Results
) -> None:
    # warm-up: load scripts, open connections, fill caches
    await raw_round(raw_client, ns, 500, -1)
    await store_round(store, 500, -1)
    for r in range(prof.rounds):
        order: list[tuple[str, Callable[[], Awaitable[dict[str, float]]]]] = [
            ("a", lambda r=r: raw_round(raw_client, ns, prof.ab_tasks, r)),  # type: ignore[misc]
            ("b", lambda r=r: store_round(store, prof.ab_tasks, r)),  # type: ignore[misc]
        ]
        if r % 2:
            order.reverse()  # alternate a,b / b,a so drift hits both alike
        for name, fn in order:
            out = await fn()
            (res.raw_rounds if name == "a" else res.store_rounds).append(out)
            log(f"round {r + 1}/{prof.rounds} ({name}): {out['tasks_per_s']:,.0f} tasks/s")


async def profile_store_round(store: Store, prof: Profile) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    await store_round(store, prof.ab_tasks, 999)
    profiler.disable()
    buf = io.StringIO()
    stats = pstats.Stats(profiler, stream=buf).strip_dirs()
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)
    print(buf.getvalue(), file=sys.stderr)


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


def build_rows(res: Results) -> list[dict[str, str]]:
    prof = res.profile
    rows: list[dict[str, str]] = []

    def row(metric: str, value: str, target: str = "—", ok: bool | None = None) -> None:
        rows.append(
            {"metric": metric, "value": value, "target": target,
             "ok": "—" if ok is None else ("yes" if ok else "NO")}
        )  # fmt: skip

    def rates(rounds: list[dict[str, float]], key: str) -> list[float]:
        return [r[key] for r in rounds]

    if res.raw_rounds and res.store_rounds:
        a = statistics.median(rates(res.raw_rounds, "tasks_per_s"))
        b = statistics.median(rates(res.store_rounds, "tasks_per_s"))
        each = ", ".join(f"{x:,.0f}" for x in rates(res.raw_rounds, "tasks_per_s"))
        row(f"(a) raw Lua floor, tasks/s (median of {len(res.raw_rounds)}: {each})", f"{a:,.0f}")
        each = ", ".join(f"{x:,.0f}" for x in rates(res.store_rounds, "tasks_per_s"))
        n = len(res.store_rounds)
        row(f"(b) store publish+fetch+complete, tasks/s (median of {n}: {each})", f"{b:,.0f}")
        row("(b)/(a)", f"{b / a:.2f}", "≥ 0.50", b / a >= 0.50)
        pairs = [y["tasks_per_s"] / x["tasks_per_s"]
                 for x, y in zip(res.raw_rounds, res.store_rounds, strict=False)]  # fmt: skip
        row("  (b)/(a) median of per-round ratios", f"{statistics.median(pairs):.2f}")
        pub = statistics.median(rates(res.store_rounds, "publish_per_s"))
        con = statistics.median(rates(res.store_rounds, "consume_per_s"))
        row("  (b) publish_many(100) only, tasks/s (median)", f"{pub:,.0f}")
        row("  (b) fetch_and_lock(10)+complete_many only, tasks/s (median)", f"{con:,.0f}")
        row("  (b) consume-only / (a)", f"{con / a:.2f}")
    lat = res.latency
    if "big" in lat and "small_interleaved" in lat:
        bg, sm = lat["big"], lat["small_interleaved"]
        small_n, big_n = f"{prof['small']:,}", f"{prof['big']:,}"
        for q in ("p50", "p99"):
            row(f"(c) fetch_and_lock(1) {q} @ {small_n} waiting in the topic, ms",
                f"{sm[q + '_ms']:.3f}")  # fmt: skip
        for q in ("p50", "p99"):
            row(f"(c) fetch_and_lock(1) {q} @ {big_n} waiting in the topic, ms",
                f"{bg[q + '_ms']:.3f}")  # fmt: skip
        for q in ("p50", "p99"):
            ratio = bg[q + "_ms"] / sm[q + "_ms"]
            row(f"(c) {q} ratio {big_n} / {small_n}", f"{ratio:.2f}", "≤ 1.2", ratio <= 1.2)
        if "small_alone" in lat:
            s = lat["small_alone"]
            row(f"  (c) p50 / p99 @ {small_n} waiting, nothing else in Redis (before + after"
                " the fill; not simultaneous, so noisier), ms",
                f"{s['p50_ms']:.3f} / {s['p99_ms']:.3f}")  # fmt: skip
            row(f"  (c) p50 ratio {big_n} in topic / {small_n} with nothing else in Redis",
                f"{bg['p50_ms'] / s['p50_ms']:.2f}")  # fmt: skip
    if res.memory:
        m = res.memory
        row(f"(d) Redis used_memory per waiting task (no variables, {m['tasks']:,} tasks), bytes",
            f"{m['bytes_per_task']:.0f}", "≤ 300", m["bytes_per_task"] <= 300)  # fmt: skip
        if m.get("task_hash_bytes") is not None:
            row("  (d) MEMORY USAGE of one task hash incl. key (avg of 100), bytes",
                f"{m['task_hash_bytes']:.0f}")  # fmt: skip
        if m.get("avail_zset_bytes_per_task") is not None:
            enc = m["avail_zset_encoding"]
            row(f"  (d) MEMORY USAGE of the waiting ZSET / tasks ({enc}), bytes",
                f"{m['avail_zset_bytes_per_task']:.0f}")  # fmt: skip
    if res.fill:
        row(f"  fill: publish_many({res.profile['fill_batch']}) x{res.profile['fill_concurrency']}"
            " concurrent, tasks/s", f"{res.fill['tasks_per_s']:,.0f}")  # fmt: skip
    return rows


def print_report(res: Results) -> None:
    out = sys.stdout
    print("\n## redtask core benchmark\n", file=out)
    print("| metric | value | target | ok? |", file=out)
    print("|---|---:|---|---|", file=out)
    for r in res.rows:
        print(f"| {r['metric']} | {r['value']} | {r['target']} | {r['ok']} |", file=out)
    m = res.machine
    print("\nMachine:", file=out)
    keys: tuple[str, ...] = ("git", "nproc", "cpu_model", "python", "platform", "redis_server")
    keys += ("redis_server_mode", "redis_py", "hiredis", "loadavg_at_start", "loadavg_at_end")
    for key in keys:
        print(f"- {key}: {m.get(key)}", file=out)
    print(f"\nCommand: `{res.command}` (cwd {os.getcwd()})", file=out)
    print(f"Wall time: {res.wall_seconds:.1f}s", file=out)
    if res.error:
        print(f"\nABORTED: {res.error} (the table holds what was measured before)", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k instead of 1M, fewer rounds")
    parser.add_argument("--redis-url", help="use this Redis instead of a private embedded one")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--rounds", type=int, help="override the number of (a)/(b) rounds")
    parser.add_argument("--tasks", type=int, help="override the tasks per (a)/(b) round")
    parser.add_argument("--big", type=int, help="override the big fill size")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile one extra store-path round (printed to stderr)")  # fmt: skip
    args = parser.parse_args(argv)
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    res = Results(command=command, profile={})
    start = time.perf_counter()
    try:
        if args.redis_url:
            asyncio.run(run(args, args.redis_url, False, res))
        else:
            with tempfile.TemporaryDirectory(prefix="redtask-bench-") as tmp:
                server = EmbeddedRedis(Path(tmp) / "redis")
                server.start()
                try:
                    asyncio.run(run(args, server.url, True, res))
                finally:
                    server.stop()
    except Exception as exc:  # a measurement: report what we have, still exit 0
        log(f"benchmark aborted: {type(exc).__name__}: {exc}")
        res.error = f"{type(exc).__name__}: {exc}"
    res.wall_seconds = time.perf_counter() - start
    if res.machine:
        res.machine["loadavg_at_end"] = os.getloadavg()
    res.rows = build_rows(res)
    print_report(res)
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(res), indent=2, default=str) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
