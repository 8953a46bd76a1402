"""A fetching client run in its own OS process by the concurrency tests."""

from __future__ import annotations

import asyncio
import time

from redtask.broker.connection import client_for
from redtask.broker.errors import StaleLock, TaskNotFound
from redtask.broker.model import TopicRequest
from redtask.broker.settings import Settings
from redtask.broker.store import Store

Delivery = tuple[str, int, int, int]  # task id, lock token, fetch sent at ms, lock expiry ms


def fetch_until_idle(
    url: str, namespace: str, partitions: int, worker: str, lock_ms: int, abandon_every: int
) -> list[Delivery]:
    """Fetch 10 at a time until the topic stays empty for 3 s (long enough on a loaded
    machine); complete every task except each ``abandon_every``-th (0 = complete all), which
    is left to expire like a crashed worker. A completion may be refused only after its lease
    ended."""

    async def run() -> list[Delivery]:
        store = Store(client_for(url), Settings(namespace=namespace, partitions=partitions))
        out: list[Delivery] = []
        idle_since = time.monotonic()
        try:
            while time.monotonic() - idle_since < 3.0:
                before = store.clock()
                batch = await store.fetch_and_lock(worker, 10, [TopicRequest("load", lock_ms)])
                if not batch:
                    await asyncio.sleep(0.02)
                    continue
                idle_since = time.monotonic()
                keep = []
                for task in batch:
                    assert task.lock_expiration_time is not None
                    out.append((task.id, task.lock_token, before, task.lock_expiration_time))
                    if not abandon_every or len(out) % abandon_every:
                        keep.append(task)
                for task in keep:
                    try:
                        await store.complete(task.id, worker, lock_token=task.lock_token)
                    except (StaleLock, TaskNotFound):
                        # refused only once the lease is over (a loaded machine can take
                        # 300 ms between fetch and complete): another client re-locked it
                        assert task.lock_expiration_time is not None
                        if store.clock() < task.lock_expiration_time:
                            raise
        finally:
            await store.close()
        return out

    return asyncio.run(run())
