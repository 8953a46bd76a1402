#!/usr/bin/env python
"""Scale-out benchmark: one Redis against a Redis Cluster, and the cost of WAIT_REPLICAS.

    .venv/bin/python bench/cluster.py [--tasks N] [--rest-tasks N] [--partitions P]
                                      [--processes K] [--rounds R]

Every topology is started here, from the bundled redis-server, with the same configuration (no
persistence, noeviction) and measured in the same run; all on this machine, loopback only:

(a) direct Redis    K client processes, each with 4 consumers looping ``fetch_and_lock(10)`` +
                    ``complete_many`` on the store until the topic is empty; N tasks are
                    pre-published (untimed). tasks/s = N / wall time.
(b) REST            one ``redtask gateway`` process on the topology; K client processes, each
                    with 4 consumers looping fetchAndLock(10) + 10 completes over HTTP.
(c) masters 1→2→3   (a) on clusters of 1, 2 and 3 masters, P partitions each.
(d) WAIT_REPLICAS   (a) on a Sentinel group (1 master, 1 replica) with REDTASK_WAIT_REPLICAS
                    0 and 1: every state change then waits for the replica's acknowledgement.

P defaults to 6 (divisible by 1, 2 and 3: each master owns the same number of partitions).
The rounds alternate the topologies; medians are reported. Progress goes to stderr; the
table, the machine and the command go to stdout. A measurement, not a test (exits 0).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shlex
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.common import cpu_model, log, nproc, python_version  # noqa: E402
from bench.servers import server_process  # noqa: E402
from redtask.broker.embedded import free_port  # noqa: E402
from redtask.broker.model import NewTask, TopicRequest  # noqa: E402
from redtask.broker.settings import Settings  # noqa: E402
from redtask.broker.store import Completion, open_store  # noqa: E402
from redtask.testing.servers import LocalCluster, LocalSentinel, Node, start_node  # noqa: E402

CONSUMERS = 4  # per client process
TOPIC = "bench"


def settings(url: str, namespace: str, partitions: int, wait: int = 0) -> Settings:
    return Settings(redis_url=url, namespace=namespace, partitions=partitions, wait_replicas=wait)


async def _publish(s: Settings, count: int) -> None:
    store = await open_store(s)
    try:
        for start in range(0, count, 500):
            await store.publish_many([NewTask(TOPIC) for _ in range(min(500, count - start))])
    finally:
        await store.close()


async def _cleanup(s: Settings) -> None:
    store = await open_store(s)
    try:
        ns = s.namespace
        keys = [k async for k in store.redis.scan_iter(match=f"*{ns}*", count=1000)]
        for start in range(0, len(keys), 500):
            await store.redis.delete(*keys[start : start + 500])
    finally:
        await store.close()


def direct_client(s: Settings) -> int:
    """One client process: CONSUMERS loops of fetch(10) + complete_many until empty."""

    async def run() -> int:
        store = await open_store(s)
        done = 0

        async def consume(n: int) -> None:
            nonlocal done
            idle = 0
            while idle < 3:
                tasks = await store.fetch_and_lock(f"d{n}", 10, [TopicRequest(TOPIC, 60_000)])
                if not tasks:
                    idle += 1
                    await asyncio.sleep(0.02)
                    continue
                idle = 0
                items = [Completion(t.id, f"d{n}", lock_token=t.lock_token) for t in tasks]
                results = await store.complete_many(items)
                done += sum(r is None for r in results)

        try:
            await asyncio.gather(*(consume(n) for n in range(CONSUMERS)))
        finally:
            await store.close()
        return done

    return asyncio.run(run())


def rest_client(base: str) -> int:
    async def run() -> int:
        done = 0
        async with httpx.AsyncClient(base_url=f"{base}/engine-rest", timeout=30) as http:

            async def consume(n: int) -> None:
                nonlocal done
                body = {
                    "workerId": f"r{n}",
                    "maxTasks": 10,
                    "topics": [{"topicName": TOPIC, "lockDuration": 60_000}],
                }
                idle = 0
                while idle < 3:
                    tasks = (await http.post("/external-task/fetchAndLock", json=body)).json()
                    if not tasks:
                        idle += 1
                        await asyncio.sleep(0.02)
                        continue
                    idle = 0
                    for task in tasks:
                        r = await http.post(
                            f"/external-task/{task['id']}/complete", json={"workerId": f"r{n}"}
                        )
                        done += r.status_code == 204

            await asyncio.gather(*(consume(n) for n in range(CONSUMERS)))
        return done

    return asyncio.run(run())


def timed(clients: int, job: Callable[..., int], arg: object, expected: int) -> float:
    """tasks/s of ``clients`` processes running ``job(arg)`` until the topic is empty."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(clients, mp_context=ctx) as pool:
        list(pool.map(abs, range(clients)))  # the processes are up before the clock starts
        started = time.perf_counter()
        done = sum(pool.map(job, [arg] * clients))
        elapsed = time.perf_counter() - started
    if done != expected:
        log(f"warning: {done} of {expected} tasks completed")
    return done / elapsed


def measure_direct(url: str, partitions: int, tasks: int, clients: int, wait: int = 0) -> float:
    s = settings(url, f"b{uuid.uuid4().hex[:10]}", partitions, wait)
    asyncio.run(_publish(settings(url, s.namespace, partitions), tasks))
    try:
        return timed(clients, direct_client, s, tasks)
    finally:
        asyncio.run(_cleanup(s))


def measure_rest(url: str, partitions: int, tasks: int, clients: int) -> float:
    s = settings(url, f"b{uuid.uuid4().hex[:10]}", partitions)
    asyncio.run(_publish(s, tasks))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDTASK_")}
    env.update(
        REDTASK_REDIS_URL=url,
        REDTASK_NAMESPACE=s.namespace,
        REDTASK_PARTITIONS=str(partitions),
    )
    args = ["-m", "redtask", "--log-level", "WARNING", "gateway", "--port", "{port}"]
    try:
        with server_process("gateway", args, env) as gateway:
            return timed(clients, rest_client, gateway.base, tasks)
    finally:
        asyncio.run(_cleanup(s))


@contextmanager
def standalone(root: Path) -> Iterator[str]:
    node = Node(free_port(), root / "standalone")
    start_node(node)
    time.sleep(0.3)
    try:
        yield f"redis://127.0.0.1:{node.port}/0"
    finally:
        node.stop()


@contextmanager
def cluster(root: Path, masters: int) -> Iterator[str]:
    c = LocalCluster(root / f"cluster{masters}", masters=masters).start()
    try:
        yield c.url
    finally:
        c.stop()


@contextmanager
def sentinel(root: Path) -> Iterator[str]:
    group = LocalSentinel(root / "sentinel").start()
    try:
        yield group.url
    finally:
        group.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--rest-tasks", type=int, default=4_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    p, n, k = args.partitions, args.tasks, args.processes
    rows: dict[str, list[float]] = {}

    def add(label: str, value: float) -> None:
        rows.setdefault(label, []).append(value)
        log(f"{label}: {value:,.0f} tasks/s")

    with tempfile.TemporaryDirectory(prefix="redtask-bench-cluster-") as tmp:
        root = Path(tmp)
        with (
            standalone(root) as one,
            cluster(root, 1) as c1,
            cluster(root, 2) as c2,
            cluster(root, 3) as c3,
            sentinel(root) as sent,
        ):
            for r in range(args.rounds):
                log(f"round {r + 1} of {args.rounds}")
                order = [0, 1] if r % 2 == 0 else [1, 0]
                for i in order:
                    url, name = [(one, "one Redis"), (c3, "cluster, 3 masters")][i]
                    add(f"(a) direct Redis, {name}", measure_direct(url, p, n, k))
                for i in order:
                    url, name = [(one, "one Redis"), (c3, "cluster, 3 masters")][i]
                    add(f"(b) REST, {name}", measure_rest(url, p, args.rest_tasks, k))
                for masters, url in [(1, c1), (2, c2), (3, c3)]:
                    add(
                        f"(c) direct Redis, cluster, {masters} master(s)",
                        measure_direct(url, p, n, k),
                    )
                for wait in order:
                    add(
                        f"(d) direct Redis, Sentinel, WAIT_REPLICAS={wait}",
                        measure_direct(sent, p, n, k, wait),
                    )

    print(
        f"\n| measurement ({p} partitions, {k} client processes x {CONSUMERS} consumers) | "
        "tasks/s (median) | rounds |"
    )
    print("|---|---:|---|")
    for label in sorted(rows):
        values = rows[label]
        each = ", ".join(f"{v:,.0f}" for v in values)
        print(f"| {label} | {statistics.median(values):,.0f} | {each} |")
    ratios = [
        (
            "(a) cluster, 3 masters / one Redis",
            "(a) direct Redis, cluster, 3 masters",
            "(a) direct Redis, one Redis",
        ),
        (
            "(b) cluster, 3 masters / one Redis",
            "(b) REST, cluster, 3 masters",
            "(b) REST, one Redis",
        ),
        (
            "(c) 2 masters / 1 master",
            "(c) direct Redis, cluster, 2 master(s)",
            "(c) direct Redis, cluster, 1 master(s)",
        ),
        (
            "(c) 3 masters / 1 master",
            "(c) direct Redis, cluster, 3 master(s)",
            "(c) direct Redis, cluster, 1 master(s)",
        ),
        (
            "(d) WAIT_REPLICAS=1 / WAIT_REPLICAS=0",
            "(d) direct Redis, Sentinel, WAIT_REPLICAS=1",
            "(d) direct Redis, Sentinel, WAIT_REPLICAS=0",
        ),
    ]
    print("\n| ratio, per round (same round, same load) | median | rounds |")
    print("|---|---:|---|")
    for label, top, bottom in ratios:
        each_ratio = [a / b for a, b in zip(rows[top], rows[bottom], strict=True)]
        listed = ", ".join(f"{v:.2f}" for v in each_ratio)
        print(f"| {label} | {statistics.median(each_ratio):.2f} | {listed} |")
    print(f"\nmachine: {cpu_model()}, {nproc()} cores, Python {python_version()}")
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
