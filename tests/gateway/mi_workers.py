"""A worker run in its own OS process by the multi-instance contention test: it fetches and
completes the tasks of one topic through its own store until the topic stays empty."""

from __future__ import annotations

import asyncio
import time

from redtask.broker.connection import client_for
from redtask.broker.model import TopicRequest
from redtask.broker.settings import Settings
from redtask.broker.store import Store


def complete_until_idle(
    url: str, namespace: str, partitions: int, worker: str, topic: str
) -> tuple[list[str], list[str]]:
    """Fetch up to 5 tasks at a time and complete each at once, until the topic stays empty
    for 1 s; returns the ids completed and the errors met (as text)."""

    async def run() -> tuple[list[str], list[str]]:
        store = Store(client_for(url), Settings(namespace=namespace, partitions=partitions))
        done: list[str] = []
        errors: list[str] = []
        idle_since = time.monotonic()
        try:
            while time.monotonic() - idle_since < 1.0:
                batch = await store.fetch_and_lock(worker, 5, [TopicRequest(topic, 600_000)])
                if not batch:
                    await asyncio.sleep(0.02)
                    continue
                idle_since = time.monotonic()
                for task in batch:
                    try:
                        await store.complete(task.id, worker, lock_token=task.lock_token)
                        done.append(task.id)
                    except Exception as exc:  # every refusal is a failure of the test
                        errors.append(f"{task.id}: {exc!r}")
        finally:
            await store.close()
        return done, errors

    return asyncio.run(run())
