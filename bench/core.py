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
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # after PYTHONPATH: a baseline (bench/baseline.py) comes first

import redis  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402

import redtask  # noqa: E402
from bench.common import (  # noqa: E402
    chunks,
    cpu_model,
    delete_namespace,
    git_state,
    log,
    nproc,
    python_version,
    redis_to_measure,
)
from bench.core_latency import run_latency_memory  # noqa: E402
from bench.core_results import FULL, QUICK, Profile, Results, build_rows, print_report  # noqa: E402
from redtask.broker.connection import client_for  # noqa: E402
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


# ---------------------------------------------------------------------------------- machine
def machine_description(server_info: dict[str, Any]) -> dict[str, Any]:
    try:
        import hiredis

        hiredis_version = getattr(hiredis, "__version__", "yes")
    except ImportError:
        hiredis_version = "not installed"
    mode = "embedded (AOF everysec)" if server_info.get("_embedded") else "external"
    state = git_state("broker")
    if state is None:
        revision = "unknown"
    else:
        head, dirty = state
        revision = head + (" (broker/ has uncommitted changes)" if dirty else "")
    return {
        "git": revision,
        "nproc": nproc(),
        "cpu_model": cpu_model(),
        "python": python_version(),
        "platform": platform.platform(),
        "redis_server": server_info.get("redis_version"),
        "redis_server_mode": mode,
        "redis_py": redis.__version__,
        "hiredis": hiredis_version,
        "loadavg_at_start": os.getloadavg(),
    }


# ---------------------------------------------------------------------------------- main
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
        log(f"redtask from {Path(redtask.__file__).parent}")
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
        with redis_to_measure(args.redis_url) as (url, embedded):
            asyncio.run(run(args, url, embedded, res))
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
