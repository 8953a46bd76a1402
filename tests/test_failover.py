"""Failover with REDTASK_WAIT_REPLICAS=1: tasks are published and processed continuously (a
REST worker through a gateway process, a direct-Redis worker, a scheduler process) while the
master is killed with SIGKILL and its replica is promoted: by Sentinel, or by the cluster
itself. Requests answer 503 during the failover and everything resumes without a restart;
no acknowledged publication or completion is lost. The outage window is printed.

With a single replica the promoted master has none until the killed node is back, so WAIT
cannot be satisfied before then: the test restarts the killed node (as a supervisor would),
and it rejoins as a replica of the new master. Under Sentinel it starts as one, as the pods of
deploy/components/redis-sentinel do: restarted empty as a master, it could be picked by a
second failover (a sentinel that misses pings for ``down-after-milliseconds`` on a busy
machine starts one) and the data would be replaced by its empty set.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from redtask.broker.connection import BACKEND_ERRORS
from redtask.broker.model import TopicRequest
from redtask.broker.settings import Settings
from redtask.broker.store import Store, open_store
from redtask.testing.servers import LocalCluster, LocalSentinel, Node, start_node
from tests.processes import gateway_process, redtask_env

pytestmark = pytest.mark.slow
TOPIC = "fo"
PARTITIONS = 8


@dataclass
class Record:
    """What the clients saw: acknowledged publications and completions (with the time of
    each acknowledgement), every delivery, and when requests failed or succeeded."""

    published: set[str] = field(default_factory=set)
    completed: dict[str, float] = field(default_factory=dict)
    deliveries: list[tuple[str, float]] = field(default_factory=list)
    failures: list[float] = field(default_factory=list)
    successes: list[float] = field(default_factory=list)

    def ok(self) -> None:
        self.successes.append(time.monotonic())

    def failed(self) -> None:
        self.failures.append(time.monotonic())


async def publisher(http: httpx.AsyncClient, record: Record, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            response = await http.post(f"/redtask/topics/{TOPIC}/tasks", json=[{}] * 5)
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code == 201:
            record.published.update(response.json()["ids"])
            record.ok()
        else:
            assert response is None or response.status_code == 503, response.text
            record.failed()
        await asyncio.sleep(0.05)


async def rest_worker(http: httpx.AsyncClient, record: Record, stop: asyncio.Event) -> None:
    body = {
        "workerId": "rest",
        "maxTasks": 5,
        "asyncResponseTimeout": 500,
        "topics": [{"topicName": TOPIC, "lockDuration": 5_000}],
    }
    while not stop.is_set():
        try:
            response = await http.post("/engine-rest/external-task/fetchAndLock", json=body)
        except httpx.HTTPError:
            response = None
        if response is None or response.status_code != 200:
            assert response is None or response.status_code == 503, response.text
            record.failed()
            await asyncio.sleep(0.2)
            continue
        for task in response.json():
            record.deliveries.append((task["id"], time.monotonic()))
            for _ in range(50):  # a 503 may or may not have completed it: ask again
                try:
                    done = await http.post(
                        f"/engine-rest/external-task/{task['id']}/complete",
                        json={"workerId": "rest"},
                    )
                except httpx.HTTPError:
                    done = None
                if done is not None and done.status_code == 204:
                    record.completed[task["id"]] = time.monotonic()
                    record.ok()
                    break
                if done is not None and done.status_code != 503:
                    break  # gone (completed by an unacknowledged try) or re-locked
                record.failed()
                await asyncio.sleep(0.2)


async def direct_worker(store: Store, record: Record, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            tasks = await store.fetch_and_lock("direct", 5, [TopicRequest(TOPIC, 5_000)])
        except BACKEND_ERRORS:
            record.failed()
            await asyncio.sleep(0.2)
            continue
        if not tasks:
            await asyncio.sleep(0.05)
        for task in tasks:
            record.deliveries.append((task.id, time.monotonic()))
            for _ in range(50):
                try:
                    await store.complete(task.id, "direct", lock_token=task.lock_token)
                except BACKEND_ERRORS:
                    record.failed()
                    await asyncio.sleep(0.2)
                    continue
                except Exception:  # gone or re-locked: not acknowledged to us
                    break
                record.completed[task.id] = time.monotonic()
                record.ok()
                break


@dataclass
class Topology:
    url: str
    kill_master: Callable[[], Node]  # SIGKILL a master (one that has a replica)
    promoted: Callable[[Node], bool]  # whether another node now serves in its place
    restart: Callable[[Node], None]


async def run_failover(topology: Topology, tmp_path: Path) -> dict[str, float]:
    namespace = f"f{uuid.uuid4().hex[:12]}"
    env = redtask_env(
        topology.url,
        namespace,
        PARTITIONS,
        REDTASK_WAIT_REPLICAS="1",
        REDTASK_WAIT_REPLICAS_TIMEOUT_MS="500",
        REDTASK_REDIS_SOCKET_TIMEOUT_S="2",
    )
    settings = Settings(
        redis_url=topology.url,
        namespace=namespace,
        partitions=PARTITIONS,
        wait_replicas=1,
        wait_replicas_timeout_ms=500,
        redis_socket_timeout_s=2,
    )
    store = await open_store(settings)
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "redtask", "--log-level", "WARNING", "scheduler"], env=env
    )
    record = Record()
    stop_publishing, stop_working = asyncio.Event(), asyncio.Event()
    try:
        with gateway_process(env) as gateway:
            gateway_pid = gateway.process.pid
            async with httpx.AsyncClient(base_url=gateway, timeout=10) as http:
                clients = [
                    asyncio.create_task(publisher(http, record, stop_publishing)),
                    asyncio.create_task(rest_worker(http, record, stop_working)),
                    asyncio.create_task(direct_worker(store, record, stop_working)),
                ]
                await asyncio.sleep(3)
                assert record.completed, "nothing was processed before the failover"
                killed_at = time.monotonic()
                node = topology.kill_master()
                while not await asyncio.to_thread(topology.promoted, node):
                    assert time.monotonic() - killed_at < 60, "no replica was promoted"
                    await asyncio.sleep(0.2)
                promoted_at = time.monotonic()
                await asyncio.to_thread(topology.restart, node)
                restarted_at = time.monotonic()
                while not [t for t in record.successes if t > restarted_at]:
                    assert time.monotonic() - restarted_at < 60, "requests did not resume"
                    await asyncio.sleep(0.1)
                await asyncio.sleep(3)  # keep going after the failover
                stop_publishing.set()
                deadline = time.monotonic() + 90
                while await _pending(store):
                    assert time.monotonic() < deadline, await store.topic_stats()
                    await asyncio.sleep(0.2)
                stop_working.set()
                await asyncio.gather(*clients)
            assert gateway.process.poll() is None and gateway.process.pid == gateway_pid
        assert scheduler.poll() is None  # the scheduler rode it out too
        finished = {e["id"] for e in await store.finished(100_000)}
        # every acknowledged publication was processed, every acknowledged completion kept
        assert record.published <= finished
        assert set(record.completed) <= finished
        assert await _pending(store) == 0
        for task_id, acknowledged in record.completed.items():
            assert all(t <= acknowledged for i, t in record.deliveries if i == task_id)
        # the outage: the longest time without any acknowledged request around the kill
        around = [killed_at, *(t for t in record.successes if t > killed_at)]
        outage = max(b - a for a, b in itertools.pairwise(around))
        failures = [t for t in record.failures if t > killed_at]
        return {
            "published": len(record.published),
            "completed (acknowledged)": len(record.completed),
            "requests refused during failover": len(failures),
            "promotion after kill (s)": promoted_at - killed_at,
            "restart of the killed node after kill (s)": restarted_at - killed_at,
            "longest time without an acknowledged request (s)": outage,
            "last failure after kill (s)": (failures[-1] - killed_at) if failures else 0.0,
        }
    finally:
        stop_publishing.set()
        stop_working.set()
        scheduler.terminate()
        scheduler.wait(15)
        keys = [k async for k in store.redis.scan_iter(match=f"*{namespace}*", count=1000)]
        if keys:
            await store.redis.delete(*keys)
        await store.close()


async def _pending(store: Store) -> int:
    stats = await store.topic_stats()
    return sum(s.available + s.locked + s.retrying + s.incidents for s in stats)


def _report(name: str, figures: dict[str, float]) -> None:
    lines = [f"{name}:"] + [f"  {k}: {v:.2f}" for k, v in figures.items()]
    print("\n".join(lines))
    with open(os.environ.get("REDTASK_FAILOVER_REPORT", os.devnull), "a") as out:
        out.write("\n".join(lines) + "\n")


@pytest.fixture
def sentinel_group(tmp_path: Path) -> Iterator[LocalSentinel]:
    group = LocalSentinel(tmp_path / "sentinel").start()
    try:
        yield group
    finally:
        group.stop()


async def test_a_sentinel_failover_loses_no_acknowledged_task_and_needs_no_restart(
    sentinel_group: LocalSentinel, tmp_path: Path
) -> None:
    group = sentinel_group
    assert group.master is not None
    old_port = group.master.port

    def kill_master() -> Node:
        assert group.master is not None
        group.master.kill()
        return group.master

    def promoted(node: Node) -> bool:
        named = sentinel_masters(group)
        return len(named) == 1 and old_port not in named

    def restart(node: Node) -> None:
        # back empty, as a replica of the master the sentinels name (see the module docstring)
        start_node(node, "--replicaof", "127.0.0.1", str(group.current_master_port()))

    figures = await run_failover(Topology(group.url, kill_master, promoted, restart), tmp_path)
    _report("sentinel failover", figures)


def sentinel_masters(group: LocalSentinel) -> set[int]:
    """The ports of the masters the sentinels name (one once they agree)."""
    ports = set()
    for sentinel in group.sentinels:
        with sentinel.client() as c:
            _host, port = c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", group.service)
        ports.add(int(port))
    return ports


@pytest.fixture
def replicated_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    cluster = LocalCluster(tmp_path / "cluster", masters=3, replicas=1).start()
    try:
        yield cluster
    finally:
        cluster.stop()


async def test_a_cluster_master_failover_loses_no_acknowledged_task_and_needs_no_restart(
    replicated_cluster: LocalCluster, tmp_path: Path
) -> None:
    cluster = replicated_cluster

    def kill_master() -> Node:
        victim = cluster.master_nodes()[0]
        victim.kill()
        return victim

    def promoted(node: Node) -> bool:
        try:
            return len(cluster.master_nodes()) == cluster.masters and cluster_ok()
        except Exception:
            return False

    def cluster_ok() -> bool:
        live = [n for n in cluster.nodes if n.alive()]
        with live[0].client() as c:
            return "cluster_state:ok" in c.execute_command("CLUSTER", "INFO")

    def restart(node: Node) -> None:
        # its nodes.conf makes it rejoin; it becomes a replica of the promoted node
        start_node(
            node,
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            str(node.directory / "nodes.conf"),
            "--cluster-node-timeout",
            str(cluster.node_timeout_ms),
            "--cluster-require-full-coverage",
            "no",
        )

    figures = await run_failover(Topology(cluster.url, kill_master, promoted, restart), tmp_path)
    _report("cluster master failover", figures)
