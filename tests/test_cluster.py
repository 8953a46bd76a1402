"""redtask on a real Redis Cluster (3 masters, 8 partitions): partitions spread over every
master, long polls on two gateways wake for tasks written on each master, and every kind of
process (gateway and scheduler of `redtask up`, direct-Redis worker, RQ bridge) runs on it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis

from redtask.broker.embedded import free_port
from redtask.broker.errors import ConfigurationError
from redtask.broker.keys import Keys, key_slot
from redtask.broker.model import NewTask, TopicRequest
from redtask.broker.settings import Settings
from redtask.broker.store import Completion, Store, open_store
from redtask.testing.servers import cluster_masters
from tests.processes import gateway_process, redtask_env

pytestmark = pytest.mark.cluster
PARTITIONS = 8
ROOT = Path(__file__).resolve().parents[1]


def master_of(masters: dict[tuple[str, int], list[tuple[int, int]]], slot: int) -> tuple[str, int]:
    return next(m for m, ranges in masters.items() if any(a <= slot <= b for a, b in ranges))


def partitions_by_master(keys: Keys, url: str) -> dict[tuple[str, int], set[int]]:
    masters = cluster_masters(url)
    found: dict[tuple[str, int], set[int]] = {m: set() for m in masters}
    for p in range(keys.partitions):
        found[master_of(masters, key_slot(keys.prefix(p)[1:-2]))].add(p)
    return found


def ids_on(store: Store, partitions: set[int], count: int) -> list[str]:
    """Task ids whose partitions are among ``partitions``."""
    ids: list[str] = []
    while len(ids) < count:
        candidate = store.new_task_id()
        if store.keys.partition_of(candidate) in partitions:
            ids.append(candidate)
    return ids


@pytest.fixture
async def cluster_store(cluster_url: str) -> AsyncIterator[Store]:
    namespace = f"c{uuid.uuid4().hex[:12]}"
    store = await open_store(
        Settings(redis_url=cluster_url, namespace=namespace, partitions=PARTITIONS)
    )
    try:
        yield store
    finally:
        keys = [k async for k in store.redis.scan_iter(match=f"*{namespace}*", count=1000)]
        if keys:
            await store.redis.delete(*keys)
        await store.close()


async def test_eight_partitions_spread_3_3_2_and_each_master_holds_exactly_its_tasks(
    cluster_url: str, cluster_store: Store
) -> None:
    store = cluster_store
    owned = partitions_by_master(store.keys, cluster_url)
    assert sorted(len(p) for p in owned.values()) == [2, 3, 3]
    ids = await store.publish_many([NewTask("spread") for _ in range(800)])
    expected = Counter()
    for task_id in ids:
        p = store.keys.partition_of(task_id)
        expected[next(m for m, ps in owned.items() if p in ps)] += 1
    ns = store.keys.namespace
    for (host, port), partitions in owned.items():
        with redis.Redis(host=host, port=port, decode_responses=True) as node:
            task_keys = list(node.scan_iter(match=f"{{{ns}:*}}:t:*", count=1000))
            all_keys = list(node.scan_iter(match=f"{{{ns}:*", count=1000))
        assert len(task_keys) == expected[(host, port)]
        # every key on the node belongs to a partition it owns
        tags = {k[1 : k.index("}")] for k in all_keys}
        assert tags == {store.keys.prefix(p)[1:-2] for p in partitions}
    assert sum(expected.values()) == 800
    assert all(count > 150 for count in expected.values())  # a fair share on every master


async def _park(client: httpx.AsyncClient, base: str, topic: str) -> list[dict[str, object]]:
    response = await client.post(
        f"{base}/engine-rest/external-task/fetchAndLock",
        json={
            "workerId": "w",
            "maxTasks": 1,
            "asyncResponseTimeout": 20_000,
            "topics": [{"topicName": topic, "lockDuration": 10_000}],
        },
        timeout=30,
    )
    assert response.status_code == 200
    return list(response.json())


async def test_polls_parked_on_two_gateways_wake_for_tasks_written_on_each_master(
    cluster_url: str, cluster_store: Store
) -> None:
    store = cluster_store
    owned = partitions_by_master(store.keys, cluster_url)
    env = redtask_env(cluster_url, store.keys.namespace, PARTITIONS)
    with gateway_process(env) as gateway_a, gateway_process(env) as gateway_b:
        async with httpx.AsyncClient() as client:
            for m, partitions in enumerate(owned.values()):
                topics = (f"a{m}", f"b{m}")
                parked = [
                    asyncio.create_task(_park(client, gateway, topic))
                    for gateway, topic in zip((gateway_a, gateway_b), topics, strict=True)
                ]
                await asyncio.sleep(0.5)  # both polls are parked by now
                published = time.monotonic()
                ids = ids_on(store, partitions, 2)
                await store.publish_many(
                    [NewTask(t, id=i) for t, i in zip(topics, ids, strict=True)]
                )
                got = await asyncio.gather(*parked)
                assert time.monotonic() - published < 2.0
                assert [[t["id"] for t in tasks] for tasks in got] == [[i] for i in ids]


def _stop(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


@pytest.mark.slow
async def test_redtask_up_a_direct_redis_worker_and_an_rq_bridge_run_on_the_cluster(
    cluster_url: str, cluster_store: Store, redis_url: str, tmp_path: Path
) -> None:
    """`redtask up` (gateway + scheduler) with REDTASK_REDIS_URL on the cluster, a
    `redtask worker --transport redis` and a `redtask rq-bridge --transport redis` (its RQ
    queue on the standalone server) complete tasks published over REST."""
    store = cluster_store
    port = free_port()
    env = {
        **redtask_env(cluster_url, store.keys.namespace, PARTITIONS),
        "PYTHONPATH": str(ROOT),
        "APP_TOPIC": "direct",
        "APP_MARKS": str(tmp_path),
    }
    redtask = [sys.executable, "-m", "redtask", "--log-level", "WARNING"]
    up = subprocess.Popen(
        [*redtask, "up", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    queue = f"q{uuid.uuid4().hex[:8]}"
    rq_url = redis_url
    processes: list[subprocess.Popen[bytes]] = [up]
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base) as http:
            deadline = time.monotonic() + 60
            while True:
                assert up.poll() is None, "redtask up exited"
                try:
                    if (await http.get("/health/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
            processes.append(
                subprocess.Popen(
                    [*redtask, "worker", "--transport", "redis", "tests.worker.apps:worker"],
                    env=env,
                    cwd=ROOT,
                )
            )
            bridge = [*redtask, "rq-bridge", "rq-topic", "tests.worker.rq_jobs.answer"]
            bridge += ["--queue", queue, "--rq-redis-url", rq_url, "--transport", "redis"]
            bridge += ["--redis-url", cluster_url, "--poll-interval", "0.05"]
            processes.append(subprocess.Popen(bridge, env=env, cwd=ROOT))
            rq = Path(sys.executable).with_name("rq")
            rq_worker = [str(rq), "worker", "--url", rq_url, "--quiet", queue]
            processes.append(subprocess.Popen(rq_worker, env=env, cwd=ROOT))
            published = []
            for topic, count in (("direct", 20), ("rq-topic", 3)):
                response = await http.post(f"/redtask/topics/{topic}/tasks", json=[{}] * count)
                assert response.status_code == 201, response.text
                published += response.json()["ids"]
            assert len(published) == 23
            deadline = time.monotonic() + 60
            while await store.topic_stats():
                assert time.monotonic() < deadline, await store.topic_stats()
                await asyncio.sleep(0.2)
            done = [e["id"] for e in await store.finished(100)]
            assert sorted(done) == sorted(published)
    finally:
        codes = [_stop(p) for p in reversed(processes)]
        with redis.Redis.from_url(rq_url) as rq_redis:
            stale = list(rq_redis.scan_iter(match=f"*{queue}*"))
            if stale:
                rq_redis.delete(*stale)
    assert codes[-1] == 0  # redtask up stopped cleanly
    assert os.path.isdir(tmp_path)  # markers of the direct worker live here
    assert len(list(tmp_path.glob("*.done"))) == 20


async def test_scripts_flushed_on_every_master_are_loaded_again_on_each(
    cluster_url: str, cluster_store: Store
) -> None:
    """As after a failover to a replica that lacks them: NOSCRIPT, then SCRIPT LOAD on every
    master, and the calls (single and batched, on all partitions) go through."""
    store = cluster_store
    masters = cluster_masters(cluster_url)
    for host, port in masters:
        with redis.Redis(host=host, port=port) as node:
            node.script_flush()
    ids = await store.publish_many([NewTask("again") for _ in range(40)])
    assert {store.keys.partition_of(i) for i in ids} == set(range(PARTITIONS))
    for host, port in masters:
        with redis.Redis(host=host, port=port) as node:
            node.script_flush()
    tasks = await store.fetch_and_lock("w", 40, [TopicRequest("again", 60_000)])
    assert sorted(t.id for t in tasks) == sorted(ids)
    for host, port in masters:
        with redis.Redis(host=host, port=port) as node:
            node.script_flush()
    results = await store.complete_many([Completion(t.id, "w") for t in tasks])
    assert results == [None] * 40
    assert await store.topic_stats() == []


async def test_a_master_that_may_evict_keys_is_refused(cluster_url: str, namespace: str) -> None:
    host, port = list(cluster_masters(cluster_url))[-1]
    with redis.Redis(host=host, port=port) as node:
        node.config_set("maxmemory-policy", "allkeys-lru")
        try:
            with pytest.raises(ConfigurationError) as info:
                await open_store(Settings(redis_url=cluster_url, namespace=namespace))
            assert "has maxmemory-policy 'allkeys-lru', which can evict" in str(info.value)
        finally:
            node.config_set("maxmemory-policy", "noeviction")
