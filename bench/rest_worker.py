#!/usr/bin/env python
"""The SDK worker over REST against one gateway, beside another revision's, in one run.

    .venv/bin/python bench/rest_worker.py [--jobs N] [--rounds R] [--concurrency C]
                                          [--baseline DIR]

Starts a private ``redis-server`` (persistence off) on a free port. For each system a round
pre-fills ``--jobs`` no-op tasks straight into the store (untimed), starts one ``redtask
gateway`` subprocess (served as gateway/server.py serves it) and one worker process
(``bench/peers_worker.py --rest``: a ``Worker`` on a ``RestTransport``, one no-op async handler,
``--concurrency`` 16, long polls of 1 s), waits until both are ready, then starts the clock and
releases the worker. The clock stops when Redis holds no task left to run (nothing fetchable or
locked), polled every 2 ms. With ``--baseline DIR`` the gateway *and* the worker of another
revision (its package as DIR/redtask) run the same way; the systems alternate within each round;
medians are reported: jobs/s, the ratio to the baseline, and CPU µs per job of the worker, the
gateway and redis-server (utime+stime from /proc).

Prints the table, the machine and the command to stdout. Exits 1 if a round went wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench.common import cpu_model, log, nproc, process_cpu  # noqa: E402
from bench.peers import (  # noqa: E402
    TOPIC,
    fill_redtask,
    remaining_commands,
    start_redis,
    start_workers,
)
from bench.servers import gateway_args, redtask_env, server_process  # noqa: E402
from redtask.broker.connection import client_for  # noqa: E402


async def one_round(
    system: str, url: str, redis_pid: int, args: argparse.Namespace
) -> dict[str, float]:
    ns = f"rw{uuid.uuid4().hex[:6]}"
    go = f"go:{ns}"
    await fill_redtask(url, ns, args.jobs)
    env = redtask_env(url, ns)
    cwd: str | Path = ROOT
    if system == "baseline":  # its gateway runs from its directory (bench/baseline.py)
        env["PYTHONPATH"] = cwd = args.baseline
    client = client_for(url)
    remaining = remaining_commands(ns)
    with server_process(system, gateway_args(), env, cwd=cwd) as gateway:
        cmd = [sys.executable, "bench/peers_worker.py", url, ns, TOPIC, str(args.concurrency), go]
        [worker] = start_workers([[*cmd, "--rest", f"{gateway.base}/engine-rest"]], env)
        try:
            cpu0 = (process_cpu(worker.pid), gateway.cpu_seconds(), process_cpu(redis_pid))
            await client.rpush(go, "go")
            t0 = time.perf_counter()
            while True:
                async with client.pipeline(transaction=False) as pipe:
                    for command in remaining:
                        pipe.execute_command(*command)
                    if sum(await pipe.execute()) == 0:
                        break
                await asyncio.sleep(0.002)
            elapsed = time.perf_counter() - t0
            cpu1 = (process_cpu(worker.pid), gateway.cpu_seconds(), process_cpu(redis_pid))
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    await client.flushdb()
    await client.aclose()
    n = args.jobs
    worker_us, gateway_us, redis_us = ((b - a) / n * 1e6 for a, b in zip(cpu0, cpu1, strict=True))
    row = {"jobs_s": n / elapsed, "worker_us": worker_us, "gateway_us": gateway_us}
    row["redis_us"] = redis_us
    log(
        f"{system}: {row['jobs_s']:,.0f} jobs/s, cpu worker {worker_us:.0f} + gateway "
        f"{gateway_us:.0f} + redis {redis_us:.0f} us/job"
    )
    return row


async def run(args: argparse.Namespace) -> dict[str, list[dict[str, float]]]:
    systems = ["current"] + (["baseline"] if args.baseline else [])
    results: dict[str, list[dict[str, float]]] = {s: [] for s in systems}
    with tempfile.TemporaryDirectory(prefix="redtask-rest-") as tmp:
        redis, url = start_redis(Path(tmp))
        try:
            client = client_for(url)
            for _ in range(100):
                try:
                    await client.ping()
                    break
                except Exception:
                    await asyncio.sleep(0.05)
            await client.aclose()
            for rnd in range(args.rounds):
                for system in systems if rnd % 2 == 0 else systems[::-1]:
                    results[system].append(await one_round(system, url, redis.pid, args))
        finally:
            redis.terminate()
            redis.wait(timeout=30)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--baseline", help="a directory holding another revision as DIR/redtask")
    args = parser.parse_args()
    if args.baseline:
        args.baseline = os.path.abspath(args.baseline)
    results = asyncio.run(run(args))

    def med(system: str, key: str) -> float:
        return statistics.median(r[key] for r in results[system])

    print(
        f"\n{args.jobs:,} no-op tasks, one gateway, one worker process at concurrency "
        f"{args.concurrency}, {args.rounds} interleaved rounds, medians\n"
    )
    names = {"current": "SDK over REST", "baseline": f"SDK over REST, baseline ({args.baseline})"}
    print("| system | jobs/s | ratio to baseline | CPU µs/job: worker + gateway | redis µs/job |")
    print("|---|---:|---:|---:|---:|")
    base = med("baseline", "jobs_s") if args.baseline else None
    for system in results:
        rate = med(system, "jobs_s")
        ratio = f"{rate / base:.2f}x" if base else "—"
        worker, gateway = med(system, "worker_us"), med(system, "gateway_us")
        print(
            f"| {names[system]} | {rate:,.0f} | {ratio} | {worker:.0f} + {gateway:.0f} = "
            f"{worker + gateway:.0f} | {med(system, 'redis_us'):.0f} |"
        )
    print(f"\nmachine: {cpu_model()}, {nproc()} cores; Python {sys.version.split()[0]}")
    print("command: " + shlex.join([".venv/bin/python", "bench/rest_worker.py", *sys.argv[1:]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
