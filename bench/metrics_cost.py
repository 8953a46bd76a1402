#!/usr/bin/env python
"""The cost of metrics: a measurement, not a test (always exits 0).

    .venv/bin/python bench/metrics_cost.py [--quick] [--tasks N] [--topics N] [--redis-url URL]

(a) REST throughput without and with a scrape of GET /metrics every second: a real
    ``redtask gateway`` subprocess; bench/loadgen.py's fetchAndLock + complete loop (16 keep-alive
    connections, tasks pre-published untimed, a fresh topic per round), rounds alternating
    off/on and on/off, medians reported with every party's CPU share (the load generator is this
    process). Then the same comparison with ``wrk`` (if installed) POSTing fetchAndLock on a topic
    without tasks (answers ``[]``: the REST path without the task work), with wrk's own CPU.
(b) The scrape with N waiting tasks over T topics (default 1M over 100): the broker-state read
    (``BrokerStateReads.read``, what a scrape costs Redis and the gateway) timed in process, and
    GET /metrics from the gateway, each sample more than a second apart (never the cached read).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import log, process_cpu, redis_to_measure
from bench.loadgen import CpuProbe, gateway_step, publish, run_load
from bench.servers import gateway_args, redtask_env, server_process
from redtask.broker.metrics import BrokerStateReads
from redtask.broker.model import NewTask
from redtask.broker.settings import Settings
from redtask.broker.store import open_store

CONCURRENCY = 16


SCRAPER = """
import sys, time, httpx
count = 0
with httpx.Client(base_url=sys.argv[1], timeout=10) as client:
    while True:
        time.sleep(1.0)
        client.get("/metrics").raise_for_status()
        count += 1
        print(count, flush=True)
"""


class Scraper:
    """GET /metrics every second from a process of its own (as Prometheus would, from outside;
    a thread here would take the load generator's CPU)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.proc: subprocess.Popen[str] | None = None
        self.scrapes = 0

    def __enter__(self) -> Scraper:
        command = [sys.executable, "-c", SCRAPER, self.base]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        self.scrapes = len(out.split())


async def rest_round(base: str, topic: str, seconds: float, scrape: bool) -> dict[str, Any]:
    await publish(base, topic, int(seconds * 4_000) + 10_000)
    probe = CpuProbe([], None)
    if not scrape:
        return await run_load(
            base, CONCURRENCY, 2.0, seconds, gateway_step(topic, 16), probe, "transport"
        )
    with Scraper(base) as scraper:
        result = await run_load(
            base, CONCURRENCY, 2.0, seconds, gateway_step(topic, 16), probe, "transport"
        )
    return result | {"scrapes": scraper.scrapes}


def wrk_round(base: str, seconds: int, scrape: bool, script: Path) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{seconds}s", "-s", str(script)]
    command.append(f"{base}/engine-rest/external-task/fetchAndLock")
    scraper = Scraper(base) if scrape else None
    if scraper is not None:
        scraper.__enter__()
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        _, _status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        out = proc.stdout.read() if proc.stdout else ""
    finally:
        if scraper is not None:
            scraper.__exit__()
    rate = next(float(line.split()[1]) for line in out.splitlines() if "Requests/sec" in line)
    return {"requests_per_s": rate, "cpu_wrk": (usage.ru_utime + usage.ru_stime) / wall}


def report_rows(name: str, off: list[dict[str, Any]], on: list[dict[str, Any]], cpu: str) -> None:
    m_off = statistics.median(r["requests_per_s"] for r in off)
    m_on = statistics.median(r["requests_per_s"] for r in on)
    c_off = statistics.median(r[cpu] for r in off)
    c_on = statistics.median(r[cpu] for r in on)
    g_off = statistics.median(r.get("cpu_gateway", 0.0) for r in off)
    g_on = statistics.median(r.get("cpu_gateway", 0.0) for r in on)
    print(f"| {name}, no scrape | {m_off:,.0f} | | {g_off:.2f} | {c_off:.2f} ({cpu[4:]}) |")
    print(
        f"| {name}, scrape every 1 s | {m_on:,.0f} | {100 * (m_on / m_off - 1):+.1f}% "
        f"| {g_on:.2f} | {c_on:.2f} ({cpu[4:]}) |"
    )


async def part_a(url: str, rounds: int, seconds: float) -> None:
    env = redtask_env(url, "bench-metrics")
    with server_process("gateway", gateway_args(), env) as gateway:
        off: list[dict[str, Any]] = []
        on: list[dict[str, Any]] = []
        for n in range(rounds):
            for scrape in (False, True) if n % 2 == 0 else (True, False):
                cpu0, t0 = process_cpu(gateway.proc.pid), time.perf_counter()
                result = await rest_round(gateway.base, f"rest-{n}-{scrape}", seconds, scrape)
                result["cpu_gateway"] = (process_cpu(gateway.proc.pid) - cpu0) / (
                    time.perf_counter() - t0
                )
                (on if scrape else off).append(result)
                log(f"round {n} scrape={scrape}: {result['requests_per_s']:,.0f} req/s")
        wrk = shutil.which("wrk")
        wrk_off: list[dict[str, Any]] = []
        wrk_on: list[dict[str, Any]] = []
        if wrk:
            with tempfile.TemporaryDirectory() as tmp:
                script = Path(tmp) / "fetch.lua"
                script.write_text(
                    'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                    'wrk.body = \'{"workerId":"w","maxTasks":10,"topics":'
                    '[{"topicName":"empty","lockDuration":30000}]}\'\n'
                )
                for n in range(rounds):
                    for scrape in (False, True) if n % 2 == 0 else (True, False):
                        cpu0, t0 = process_cpu(gateway.proc.pid), time.perf_counter()
                        result = wrk_round(gateway.base, int(seconds), scrape, script)
                        result["cpu_gateway"] = (process_cpu(gateway.proc.pid) - cpu0) / (
                            time.perf_counter() - t0
                        )
                        (wrk_on if scrape else wrk_off).append(result)
                        log(f"wrk round {n} scrape={scrape}: {result['requests_per_s']:,.0f}")
    print("| load | requests/s (median) | change | gateway CPU (cores) | load generator CPU |")
    print("|---|---|---|---|---|")
    report_rows("fetchAndLock + complete (bench/loadgen.py)", off, on, "cpu_loadgen")
    if wrk_off:
        report_rows("fetchAndLock, empty topic (wrk -t1 -c16)", wrk_off, wrk_on, "cpu_wrk")


async def part_b(url: str, tasks: int, topics: int, samples: int) -> None:
    settings = Settings(redis_url=url, namespace="bench-scrape", partitions=1)
    store = await open_store(settings)
    try:
        t0 = time.perf_counter()
        batch = 5_000
        for start in range(0, tasks, batch):
            size = min(batch, tasks - start)
            await store.publish_many(
                [NewTask(f"topic-{(start + k) % topics}") for k in range(size)]
            )
        log(f"published {tasks:,} tasks over {topics} topics in {time.perf_counter() - t0:.0f} s")
        reads = BrokerStateReads(store.db, store.keys, store.clock)
        timings = []
        for _ in range(samples):
            t0 = time.perf_counter()
            state = await reads.read()
            timings.append(time.perf_counter() - t0)
        assert sum(t.available for t in state.topics) == tasks
        env = redtask_env(url, "bench-scrape")
        scrape_times = []
        with server_process("gateway", gateway_args(), env) as gateway:
            async with httpx.AsyncClient(base_url=gateway.base, timeout=30) as client:
                for _ in range(samples):
                    await asyncio.sleep(1.1)  # past the one-second cache: each sample reads Redis
                    t0 = time.perf_counter()
                    body = (await client.get("/metrics")).text
                    scrape_times.append(time.perf_counter() - t0)
            size = len(body)
        memory = (await store.db.execute("INFO", "memory"))["used_memory_human"]
        print()
        print(f"| scrape with {tasks:,} waiting tasks over {topics} topics | median | max |")
        print("|---|---|---|")
        print(
            f"| broker-state read (in process) | {1000 * statistics.median(timings):.1f} ms "
            f"| {1000 * max(timings):.1f} ms |"
        )
        print(
            f"| GET /metrics (gateway, uncached, {size:,} bytes) "
            f"| {1000 * statistics.median(scrape_times):.1f} ms "
            f"| {1000 * max(scrape_times):.1f} ms |"
        )
        print(f"\nRedis used_memory: {memory}")
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 4 s, 100k tasks")
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--topics", type=int, default=100)
    parser.add_argument("--redis-url")
    parser.add_argument("--skip-rest", action="store_true", help="only (b)")
    args = parser.parse_args(argv)
    rounds, seconds = (1, 4.0) if args.quick else (3, 8.0)
    tasks = 100_000 if args.quick else args.tasks
    with redis_to_measure(args.redis_url) as (url, _embedded):
        if not args.skip_rest:
            asyncio.run(part_a(url, rounds, seconds))
        asyncio.run(part_b(url, tasks, args.topics, 5))
    command = " ".join(argv or sys.argv[1:])
    print(f"\nmachine: {os.cpu_count()} cores; command: bench/metrics_cost.py {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
