"""Real concurrent clients (8 OS processes) on one topic of 10k tasks."""

from __future__ import annotations

import itertools
import multiprocessing
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor

from redtask.broker.model import NewTask
from redtask.broker.store import Store, wall_clock_ms
from tests.broker.fetcher_process import Delivery, fetch_until_idle

CLIENTS = 8
TASKS = 10_000


async def _publish(store: Store) -> list[str]:
    ids: list[str] = []
    for _ in range(TASKS // 1_000):
        ids += await store.publish_many([NewTask("load") for _ in range(1_000)])
    return ids


def _run_clients(store: Store, store_url: str, lock_ms: int, abandon_every: int) -> list[Delivery]:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(CLIENTS, mp_context=ctx) as pool:
        futures = [
            pool.submit(
                fetch_until_idle,
                store_url,
                store.settings.namespace,
                store.keys.partitions,
                f"worker-{n}",
                lock_ms,
                abandon_every,
            )
            for n in range(CLIENTS)
        ]
        return [d for f in futures for d in f.result(timeout=240)]


async def test_eight_clients_never_get_the_same_task_and_every_task_is_delivered(
    store_url: str, store: Store
) -> None:
    store.clock = wall_clock_ms
    ids = await _publish(store)
    deliveries = _run_clients(store, store_url, lock_ms=120_000, abandon_every=0)
    delivered = [d[0] for d in deliveries]
    assert len(delivered) == TASKS
    assert set(delivered) == set(ids)
    assert await store.topic_stats() == []


async def test_a_task_comes_back_only_after_its_lease_and_never_twice_under_one(
    store_url: str, store: Store
) -> None:
    """Every 50th task is abandoned with a 300 ms lease; only those are delivered again,
    each re-delivery starts after the previous lease ended and carries a higher token."""
    store.clock = wall_clock_ms
    ids = await _publish(store)
    deliveries = _run_clients(store, store_url, lock_ms=300, abandon_every=50)
    by_task: dict[str, list[Delivery]] = defaultdict(list)
    for d in deliveries:
        by_task[d[0]].append(d)
    assert set(by_task) == set(ids)
    for task_id, ds in by_task.items():
        ds.sort(key=lambda d: d[1])
        tokens = [d[1] for d in ds]
        assert tokens == list(range(1, len(ds) + 1)), task_id
        for previous, later in itertools.pairwise(ds):
            locked_at = later[3] - 300  # the script's clock when it granted the later lock
            assert locked_at >= previous[3], f"{task_id} re-delivered under a valid lock"
    assert sum(len(ds) > 1 for ds in by_task.values()) > 0
    # abandoned tasks were re-delivered until a client completed them: nothing is left
    assert await store.topic_stats() == []
