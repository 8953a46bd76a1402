#!/usr/bin/env python
"""Client CPU per script call: redis-py's asyncio client against the Redis layer's pipelined
connection (``broker/pipelined.py``), in one run on one redis-server.

    .venv/bin/python bench/redis_calls.py [--calls N] [--rounds R] [--redis-url URL]

Each round sends ``--calls`` ``EVALSHA``s of a two-value script through each client, first one
after the other (one caller), then from 16 concurrent callers, and reads this process's CPU
time around each phase (the clients alternate, forward then backward). Prints the medians: CPU
µs per call and the ratio to redis-py's in the same phase; the machine and the command.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench.common import cpu_model, log, nproc, redis_to_measure  # noqa: E402
from redtask.broker.connection import client_for  # noqa: E402
from redtask.broker.pipelined import PipelinedConnection  # noqa: E402

SCRIPT = "return {ARGV[1], ARGV[2]}"
CONCURRENCY = 16


async def phase(call: Callable[[], Awaitable[Any]], calls: int, callers: int) -> float:
    """CPU µs per call of ``calls`` calls made by ``callers`` concurrent callers."""

    async def caller(n: int) -> None:
        for _ in range(n):
            await call()

    share, extra = divmod(calls, callers)
    started = time.process_time()
    await asyncio.gather(*(caller(share + (i < extra)) for i in range(callers)))
    return (time.process_time() - started) / calls * 1e6


async def run(args: argparse.Namespace, url: str) -> dict[tuple[str, int], list[float]]:
    client = client_for(url)
    lane = PipelinedConnection.for_client(client)
    assert lane is not None, "the pipelined connection serves a plain standalone server only"
    sha = await client.script_load(SCRIPT)
    clients: dict[str, Callable[[], Awaitable[Any]]] = {
        "redis-py": lambda: client.evalsha(sha, 0, "a", "b"),
        "pipelined": lambda: lane.execute("EVALSHA", sha, 0, "a", "b"),
    }
    for call in clients.values():  # connect and warm up, untimed
        for _ in range(500):
            assert await call() == ["a", "b"]
    results: dict[tuple[str, int], list[float]] = {
        (name, callers): [] for name in clients for callers in (1, CONCURRENCY)
    }
    try:
        for rnd in range(args.rounds):
            names = list(clients) if rnd % 2 == 0 else list(clients)[::-1]
            for callers in (1, CONCURRENCY):
                for name in names:
                    us = await phase(clients[name], args.calls, callers)
                    results[(name, callers)].append(us)
                    log(f"round {rnd + 1}: {name}, {callers} callers: {us:.1f} µs/call")
    finally:
        lane.close()
        await client.aclose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis-url", help="measure against this server (default: embedded)")
    args = parser.parse_args()
    with redis_to_measure(args.redis_url) as (url, _):
        results = asyncio.run(run(args, url))
    print(f"\n{args.calls:,} EVALSHA calls per phase, {args.rounds} rounds, medians\n")
    print("| client | callers | client CPU µs/call | ratio to redis-py |")
    print("|---|---:|---:|---:|")
    for callers in (1, CONCURRENCY):
        base = statistics.median(results[("redis-py", callers)])
        for name in ("redis-py", "pipelined"):
            us = statistics.median(results[(name, callers)])
            print(f"| {name} | {callers} | {us:.1f} | {us / base:.2f} |")
    print(f"\nmachine: {cpu_model()}, {nproc()} cores; Python {sys.version.split()[0]}")
    print("command: " + shlex.join([".venv/bin/python", "bench/redis_calls.py", *sys.argv[1:]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
