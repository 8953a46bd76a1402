"""Faults as tests: N tasks worked by real `redtask worker` processes of both transports (REST
through the gateway, direct Redis) while a worker of each transport, the gateway, the scheduler
and redis-server (AOF, restarted on the same data directory) are killed with SIGKILL at random
points of the run and restarted.

Afterwards: no task is lost (every published task is in the finished-task log), none is stuck
(no task record, lock, fetchable, retry or incident entry is left), no completion was
acknowledged twice (each task is in the log once, with the execution id of one recorded
execution), and every re-execution of a task started only after the lock of the execution
before it had expired or that execution's worker had been killed.

The run is seeded: ``REDTASK_CHAOS_SEED`` replays one (the seed is printed and in the failure
message), ``REDTASK_CHAOS_TASKS`` changes N.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from redtask.broker.connection import client_for
from redtask.broker.keys import Keys
from redtask.broker.model import NewTask
from redtask.broker.query import TaskQuery
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from tests.chaos.cluster import Cluster

TASKS = int(os.environ.get("REDTASK_CHAOS_TASKS", "3000"))
SEED = int(os.environ.get("REDTASK_CHAOS_SEED", str(random.randrange(2**32))))
TARGETS = ["worker-rest", "worker-redis", "gateway", "scheduler", "redis"] * 2
LOCK_MS = 2_000
HANDLER_MS = 20
RUN_TIMEOUT_S = 150


def settings_of(cluster: Cluster) -> Settings:
    return Settings(
        redis_url=cluster.redis.url,
        namespace=cluster.namespace,
        partitions=cluster.partitions,
        data_dir=Path("unused"),
    )


async def publish(cluster: Cluster, count: int) -> list[str]:
    store = Store(client_for(cluster.redis.url), settings_of(cluster))
    try:
        ids: list[str] = []
        for start in range(0, count, 500):
            batch = [NewTask(cluster.topic) for _ in range(start, min(count, start + 500))]
            ids += await store.publish_many(batch)
        return ids
    finally:
        await store.close()


async def leftovers(cluster: Cluster) -> tuple[int, list[Any]]:
    store = Store(client_for(cluster.redis.url), settings_of(cluster))
    try:
        return await store.count(TaskQuery(topic_name=cluster.topic)), await store.topic_stats()
    finally:
        await store.close()


def finished_log(cluster: Cluster) -> list[dict[str, str]]:
    keys = Keys(cluster.namespace, cluster.partitions)
    client = redis.Redis.from_url(cluster.redis.url, decode_responses=True, socket_timeout=5)
    try:
        return [
            fields
            for partition in range(cluster.partitions)
            for _, fields in client.xrange(keys.done(partition))
        ]
    finally:
        client.close()


def finished_count(cluster: Cluster) -> int | None:
    """Entries in the finished-task log; None while Redis does not answer."""
    keys = Keys(cluster.namespace, cluster.partitions)
    client = redis.Redis.from_url(cluster.redis.url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return sum(int(client.xlen(keys.done(p))) for p in range(cluster.partitions))
    except redis.RedisError:
        return None
    finally:
        client.close()


def task_keys(cluster: Cluster) -> list[str]:
    """Every key of the namespace that holds or indexes tasks (t:, a:, al:, l:, r:, x:)."""
    client = redis.Redis.from_url(cluster.redis.url, decode_responses=True, socket_timeout=5)
    try:
        return sorted(
            key
            for key in client.scan_iter(match=f"{{{cluster.namespace}:*", count=1000)
            if key.split("}:", 1)[1].split(":", 1)[0] in ("t", "a", "al", "l", "r", "x")
        )
    finally:
        client.close()


def executions(cluster: Cluster) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for log in sorted((cluster.root / "executions").glob("*.jsonl"))
        for line in log.read_text().splitlines()
    ]


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not reached in {timeout}s: {what}"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.timeout(RUN_TIMEOUT_S + 120)
def test_kill_9_of_any_process_at_random_points_loses_duplicates_and_strands_no_task(
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    replay = f"REDTASK_CHAOS_SEED={SEED} REDTASK_CHAOS_TASKS={TASKS}"
    print(f"chaos run: {replay}, data in {tmp_path}")
    cluster = Cluster(tmp_path, f"c{uuid.uuid4().hex[:8]}", "chaos", LOCK_MS, HANDLER_MS)
    thresholds = sorted(rng.uniform(0.05, 0.85) for _ in TARGETS)
    targets = rng.sample(TARGETS, len(TARGETS))
    events: list[str] = []
    started = time.monotonic()
    try:
        cluster.start_redis()
        published = asyncio.run(publish(cluster, TASKS))
        cluster.start_scheduler()
        cluster.start_gateway(wait=True)
        for slot in range(2):
            cluster.start_worker("rest", slot)
            cluster.start_worker("redis", slot)

        for threshold, target in zip(thresholds, targets, strict=True):
            goal = int(threshold * TASKS)
            wait_until(
                lambda goal=goal: (finished_count(cluster) or 0) >= goal,  # type: ignore[misc]
                RUN_TIMEOUT_S - (time.monotonic() - started),
                f"{goal} tasks finished before killing {target} ({replay}; {events})",
            )
            pause = rng.uniform(0, 0.5)
            victim = cluster.kill_and_restart(target, pause, rng.randrange(1_000))
            events.append(f"{time.monotonic() - started:.1f}s @{goal}: kill -9 {victim}")

        def all_finished() -> bool:
            count = finished_count(cluster)
            return count is not None and count >= TASKS and not task_keys(cluster)

        wait_until(
            all_finished,
            RUN_TIMEOUT_S - (time.monotonic() - started),
            f"every task finished ({replay}; {events}; {cluster.exited_by_themselves()})",
        )
        elapsed = time.monotonic() - started
        crashed = cluster.exited_by_themselves()
        remaining, stats = asyncio.run(leftovers(cluster))
        log = finished_log(cluster)
        runs = executions(cluster)
    finally:
        cluster.stop()

    context = f"{replay}; events {events}"
    assert crashed == [], context  # only the processes we killed died

    # 0 lost, 0 acknowledged twice
    logged = Counter(entry["id"] for entry in log)
    assert set(logged) == set(published) and len(published) == TASKS, context
    twice = {task for task, times in logged.items() if times > 1}
    assert twice == set(), context
    assert {entry["outcome"] for entry in log} == {"complete"}, context

    # 0 stuck: no task record or index entry is left (checked before stopping), and the
    # topic statistics count nothing available, locked, retrying or in an incident
    assert remaining == 0, context
    assert [s for s in stats if (s.available, s.locked, s.retrying, s.incidents) != (0,) * 4] == []

    # every acknowledged completion came from one recorded execution of that task
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        by_task[run["task"]].append(run)
    for entry in log:
        execution = json.loads(entry["v"])["execution"]["value"]
        assert execution in {run["execution"] for run in by_task[entry["id"]]}, (entry, context)

    # a re-execution starts only after the previous lock expired or its worker was killed
    early, after_kill = [], 0
    for task, task_runs in by_task.items():
        task_runs.sort(key=lambda run: run["start_ms"])
        for before, after in itertools.pairwise(task_runs):
            after_kill += before["pid"] in cluster.killed_pids
            expired = after["start_ms"] >= before["lock_expires_ms"]
            if not expired and before["pid"] not in cluster.killed_pids:
                early.append((task, before, after))
    assert early == [], context

    reexecuted = sum(len(r) - 1 for r in by_task.values())
    print(
        f"chaos: {TASKS} tasks in {elapsed:.1f}s, {len(runs)} executions "
        f"({reexecuted} re-executions, {after_kill} of them after their worker's kill -9), "
        f"kills {dict(sorted(cluster.kills.items()))}, "
        f"0 lost, 0 twice, 0 stuck; {events}"
    )
