#!/usr/bin/env python
"""Worker SDK benchmark: tasks/s through ``worker.Worker`` beside the raw Lua floor.

    .venv/bin/python bench/worker.py [--quick] [--redis-url URL] [--json PATH] [--concurrency N]
                                     [--wide N] [--profile]

One run against one Redis: a private EmbeddedRedis in a temporary directory (AOF everysec,
noeviction, as bench/core.py starts it) unless ``--redis-url`` is given; a fresh namespace,
deleted at the end. Every path consumes the same number of tasks per round, pre-filled before
its clock starts (the floor's definition: the timed part is fetch + complete only).

(a) raw Lua floor   bench/core.py's ``raw_round``, unchanged: minimal fetch(10) / complete
                    scripts, EVALSHA through the same asyncio client; per cycle one fetch of
                    10 ids, then the 10 completes in one pipeline. Pre-filled, untimed.
(b) direct Redis    a ``Worker`` with a ``RedisTransport`` (sharing one opened store, so the
                    connection pool is warm) and one no-op ``async`` handler. N tasks are
                    pre-published with ``Store.publish_many`` (batches of 100, untimed); the
                    clock runs from ``worker.run()`` until the N-th ``complete`` has been
                    acknowledged by Redis. Runs in this process, like the floor.
(b2) direct Redis   for information: (b) at a higher concurrency (``--wide``, default 32);
                    the worker then fetches up to that many tasks at a time and completes them
                    in batches of that size, which the floor, fixed at 10, does not.
(c) REST            the same as (b) with a ``RestTransport`` against a real ``redtask gateway``
                    subprocess on the same Redis and namespace (tasks pre-published the same
                    way, straight into the store).

(d)-(f)             the same three paths end to end, publish included: the clock starts
                    before the publish (the floor's own pipelined fill; ``Store.publish_many``
                    in batches of 100 for the workers), which is then followed by the consume.
                    Ratios of (e) and (f) are to (d). ``--no-publish`` skips them.

The workers run at ``--concurrency`` 10 (default), the floor's batch: they never hold more than
10 locked tasks, fetch at most 10 at a time, and complete what finished together in one call.
The paths alternate for several rounds (a,b,b2,c / c,b2,b,a ...); medians are reported.
After each worker round the topic must be empty and nothing may have been reported other
than a completion (no failure, BPMN error or warning logged by the worker).

Progress goes to stderr; the result table, machine description and command go to stdout.
Exits 0 after a complete measurement (whatever the ratios), 1 if anything went wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import logging
import os
import pstats
import shlex
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# run as `python bench/worker.py`, this directory comes first on sys.path, and this very file
# would then be imported as the `worker` package: put the repository root there instead
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import redis.asyncio as aioredis  # noqa: E402

from bench.common import (  # noqa: E402
    delete_namespace,
    git_state,
    log,
    print_machine,
    print_run,
    redis_to_measure,
    wait_persistence_idle,
)
from bench.core import machine_description, raw_round  # noqa: E402
from bench.servers import Server, gateway_args, redtask_env, server_process  # noqa: E402
from bench.worker_rounds import Cpu, WarningCounter, worker_round  # noqa: E402
from redtask.broker.connection import client_for  # noqa: E402
from redtask.broker.settings import Settings  # noqa: E402
from redtask.broker.store import Store, open_store  # noqa: E402
from redtask.worker.transport.redis import RedisTransport  # noqa: E402
from redtask.worker.transport.rest import RestTransport  # noqa: E402


@dataclass
class Profile:
    rounds: int
    tasks: int  # per round, for every path


FULL = Profile(rounds=5, tasks=10_000)  # bench/core.py's full run: 10,000 tasks a round
QUICK = Profile(rounds=2, tasks=4_000)  # bench/core.py --quick: 4,000 tasks a round


# ---------------------------------------------------------------------------------- main
@dataclass
class Results:
    command: str
    profile: dict[str, Any]
    machine: dict[str, Any] = field(default_factory=dict)
    rounds: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {
            "floor": [],
            "redis": [],
            "rest": [],
            "redis_wide": [],
            "floor_pub": [],
            "redis_pub": [],
            "rest_pub": [],
        }
    )
    wall_seconds: float = 0.0
    error: str | None = None


def revision() -> str:
    """The commit, and which measured packages have uncommitted changes (read-only git)."""
    state = git_state("broker", "gateway", "worker")
    if state is None:
        return "unknown"
    head, packages = state
    return head + (f" ({', '.join(packages)} with uncommitted changes)" if packages else "")


async def run(args: argparse.Namespace, url: str, embedded: bool, res: Results) -> None:
    prof = QUICK if args.quick else FULL
    prof = Profile(args.rounds or prof.rounds, args.tasks or prof.tasks)
    res.profile = asdict(prof) | {"concurrency": args.concurrency, "wide": args.wide}
    ns = f"wb{uuid.uuid4().hex[:5]}"  # as long as the default "redtask"
    settings = Settings(redis_url=url, namespace=ns, partitions=1)
    store = await open_store(settings)
    raw_client = client_for(url)  # the floor gets its own client of the same kind
    warnings = WarningCounter()
    logging.getLogger().addHandler(warnings)
    try:
        server_info = await raw_client.info("server")
        server_info["_embedded"] = embedded
        res.machine = machine_description(server_info) | {"git": revision()}
        log(f"redis {server_info.get('redis_version')} at {url}, namespace {ns}, {prof}")
        env = redtask_env(url, ns, REDTASK_SCHEDULER_INTERVAL_MS="20")
        with server_process("gateway", gateway_args(), env) as gateway:
            await run_rounds(store, raw_client, ns, gateway, prof, args, warnings, res)
    finally:
        logging.getLogger().removeHandler(warnings)
        try:
            await delete_namespace(raw_client, ns)
        finally:
            await raw_client.aclose()
            await store.close()


async def run_rounds(
    store: Store,
    raw_client: aioredis.Redis,
    ns: str,
    gateway: Server,
    prof: Profile,
    args: argparse.Namespace,
    warnings: WarningCounter,
    res: Results,
) -> None:
    api = f"{gateway.base}/engine-rest"
    redis_cpu = Cpu(raw_client)
    rest_cpu = Cpu(raw_client, gateway.proc.pid)

    def direct(n: int, timed_publish: bool = False) -> Awaitable[dict[str, Any]]:
        make = lambda: RedisTransport(store=store)  # noqa: E731
        return worker_round(
            store, make, redis_cpu, n, "redis", args.concurrency, warnings,
            timed_publish=timed_publish,
        )  # fmt: skip

    def rest(n: int, timed_publish: bool = False) -> Awaitable[dict[str, Any]]:
        make = lambda: RestTransport(api)  # noqa: E731
        return worker_round(
            store, make, rest_cpu, n, "rest", args.concurrency, warnings,
            timed_publish=timed_publish,
        )  # fmt: skip

    def floor(n: int, timed_fill: bool = False) -> Awaitable[dict[str, Any]]:
        key = "floor_pub" if timed_fill else "floor"
        return raw_round(raw_client, ns, n, len(res.rounds[key]) * 2 + timed_fill,
                         timed_fill=timed_fill)  # fmt: skip

    def wide(n: int) -> Awaitable[dict[str, Any]]:
        make = lambda: RedisTransport(store=store)  # noqa: E731
        return worker_round(store, make, redis_cpu, n, "redis-wide", args.wide, warnings)

    log("warm-up: one untimed short round of each path")
    await raw_round(raw_client, ns, 500, -1)
    await direct(500)
    await rest(500)
    if args.profile:
        await profile_round(direct, prof.tasks)
    paths: list[tuple[str, Callable[[int], Awaitable[dict[str, Any]]]]] = [
        ("floor", floor),
        ("redis", direct),
        ("rest", rest),
    ]
    if not args.no_publish:  # the same three paths with publish inside the clock
        paths += [
            ("floor_pub", lambda n: floor(n, True)),
            ("redis_pub", lambda n: direct(n, True)),
            ("rest_pub", lambda n: rest(n, True)),
        ]
    if args.wide:
        paths.insert(2, ("redis_wide", wide))
    for r in range(prof.rounds):
        for name, fn in paths if r % 2 == 0 else paths[::-1]:  # drift hits every path alike
            await wait_persistence_idle(raw_client)
            out = await fn(prof.tasks)
            res.rounds[name].append(out)
            log(f"round {r + 1}/{prof.rounds} ({name}): {out['tasks_per_s']:,.0f} tasks/s")


async def profile_round(direct: Callable[[int], Awaitable[dict[str, Any]]], n: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    await direct(n)
    profiler.disable()
    buf = io.StringIO()
    stats = pstats.Stats(profiler, stream=buf).strip_dirs()
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)
    print(buf.getvalue(), file=sys.stderr)


def build_rows(res: Results) -> list[tuple[str, str, str, str, str]]:
    """(path, tasks/s, ratio to the floor, target, ok?) rows, then CPU rows."""
    rows: list[tuple[str, str, str, str, str]] = []
    floor_rounds = res.rounds["floor"]
    if not floor_rounds:
        return rows
    floor = statistics.median(r["tasks_per_s"] for r in floor_rounds)
    for key, label in labels(res.profile).items():
        rounds = res.rounds[key]
        if not rounds:
            continue
        if key.endswith("_pub"):
            floor_rounds = res.rounds["floor_pub"]
            floor = statistics.median(r["tasks_per_s"] for r in floor_rounds)
        rate = statistics.median(r["tasks_per_s"] for r in rounds)
        each = ", ".join(f"{r['tasks_per_s']:,.0f}" for r in rounds)
        target, ok = "—", "—"
        if key in ("redis", "redis_pub"):
            target, ok = "≥ 0.50", "yes" if rate / floor >= 0.5 else "NO"
        ratio = f"{rate / floor:.2f}"
        rows.append(
            (f"{label} (median of {len(rounds)}: {each})", f"{rate:,.0f}", ratio, target, ok)
        )
        if not key.startswith("floor"):
            pairs = [
                w["tasks_per_s"] / f["tasks_per_s"]
                for f, w in zip(floor_rounds, rounds, strict=False)
            ]
            median_pair = f"{statistics.median(pairs):.2f}"
            rows.append(("  the same, median of per-round ratios", "", median_pair, "—", "—"))
    for key, letter in (("redis", "b"), ("redis_wide", "b2"), ("rest", "c"),
                        ("redis_pub", "e"), ("rest_pub", "f")):  # fmt: skip
        rounds = res.rounds[key]
        parts = []
        for who, shown in (("bench", "worker"), ("gateway", "gateway"), ("redis", "redis-server")):
            values = [r[f"cpu_us_per_task_{who}"] for r in rounds if f"cpu_us_per_task_{who}" in r]
            if values:
                parts.append(f"{shown} {statistics.median(values):.0f}")
        if parts:
            rows.append((f"  ({letter}) CPU per task, µs (median)", ", ".join(parts), "", "—", "—"))
    return rows


def labels(profile: dict[str, Any]) -> dict[str, str]:
    return {
        "floor": "(a) raw Lua floor: fetch(10) + the 10 completes pipelined (bench/core.py)",
        "redis": "(b) direct Redis: Worker + RedisTransport, no-op async handler",
        "redis_wide": f"(b2) the same at concurrency {profile.get('wide')}, for information: it "
        f"fetches up to {profile.get('wide')} tasks at a time, so not the floor's shape",
        "rest": "(c) REST: Worker + RestTransport → redtask gateway, no-op async handler",
        "floor_pub": "(d) publish included: the floor with its fill (pipelined HSET + ZADD, "
        "1,000 a pipeline) inside the clock",
        "redis_pub": "(e) publish included: Store.publish_many (batches of 100) then (b)",
        "rest_pub": "(f) publish included: Store.publish_many (batches of 100) then (c)",
    }


def print_report(res: Results) -> None:
    prof = res.profile
    print("\n## redtask worker benchmark\n")
    print(
        f"{prof.get('tasks', 0):,} tasks a round; (a)-(c) pre-filled before the clock starts "
        f"(publish excluded), (d)-(f) with the publish inside the clock (ratios of (e) and (f) "
        f"are to (d)); worker concurrency {prof.get('concurrency')}.\n"
    )
    print("| path | tasks/s | / floor | target | ok? |")
    print("|---|---:|---:|---|---|")
    for path, rate, ratio, target, ok in build_rows(res):
        print(f"| {path} | {rate} | {ratio} | {target} | {ok} |")
    keys: tuple[str, ...] = ("git", "nproc", "cpu_model", "python", "platform", "redis_server")
    keys += ("redis_server_mode", "redis_py", "hiredis", "loadavg_at_start", "loadavg_at_end")
    print_machine(res.machine, keys, sys.stdout)
    print_run(res.command, res.wall_seconds, res.error, "FAILED", sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4,000 tasks a round, 2 rounds")
    parser.add_argument("--redis-url", help="use this Redis instead of a private embedded one")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    parser.add_argument("--tasks", type=int, help="override the tasks per round")
    parser.add_argument(
        "--concurrency", type=int, default=10, help="the workers' concurrency (default 10)"
    )
    parser.add_argument(
        "--wide", type=int, default=32, help="concurrency of the (b2) rows (default 32; 0: none)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile one extra (b) round (to stderr)"
    )
    parser.add_argument(
        "--no-publish", action="store_true", help="skip the (d)-(f) rows (publish in the clock)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    res = Results(command=command, profile={})
    start = time.perf_counter()
    try:
        with redis_to_measure(args.redis_url) as (url, embedded):
            asyncio.run(run(args, url, embedded, res))
    except Exception as exc:  # report what was measured, then fail
        log(f"benchmark failed: {type(exc).__name__}: {exc}")
        res.error = f"{type(exc).__name__}: {exc}"
    res.wall_seconds = time.perf_counter() - start
    if res.machine:
        res.machine["loadavg_at_end"] = os.getloadavg()
    print_report(res)
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(res), indent=2, default=str) + "\n")
        log(f"wrote {args.json}")
    return 1 if res.error else 0


if __name__ == "__main__":
    sys.exit(main())
