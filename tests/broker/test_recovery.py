"""Recovery with real processes: a `redtask scheduler` subprocess brings back the task of a
worker killed mid-task, brings back due retries, and incidents resolve into fetchable tasks."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator

import pytest

from redtask.broker.model import NewTask, TaskState, TopicRequest, TopicStats
from redtask.broker.store import Store, wall_clock_ms


@pytest.fixture
def scheduler(store_url: str, store: Store) -> Iterator[subprocess.Popen[bytes]]:
    env = dict(
        os.environ,
        REDTASK_REDIS_URL=store_url,
        REDTASK_NAMESPACE=store.settings.namespace,
        REDTASK_PARTITIONS=str(store.keys.partitions),
        REDTASK_SCHEDULER_INTERVAL_MS="20",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "redtask", "scheduler", "--id", "test-scheduler"], env=env
    )
    yield proc
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


@pytest.fixture
async def real_time_store(store: Store) -> AsyncIterator[Store]:
    store.clock = wall_clock_ms
    yield store


async def _until(predicate: object, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


KILLED_WORKER = textwrap.dedent(
    """
    import asyncio, sys, time
    from redtask.broker.connection import client_for
    from redtask.broker.model import TopicRequest
    from redtask.broker.settings import Settings
    from redtask.broker.store import Store

    async def main():
        settings = Settings(namespace=sys.argv[2], partitions=int(sys.argv[3]))
        store = Store(client_for(sys.argv[1]), settings)
        [task] = await store.fetch_and_lock("doomed", 1, [TopicRequest("jobs", 400)])
        print(task.id, flush=True)
        time.sleep(3600)

    asyncio.run(main())
    """
)


async def test_the_task_of_a_killed_worker_is_redelivered_after_its_lease(
    store_url: str, real_time_store: Store, scheduler: subprocess.Popen[bytes]
) -> None:
    store = real_time_store
    [task_id] = await store.publish_many([NewTask("jobs")])
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_WORKER,
            store_url,
            store.settings.namespace,
            str(store.keys.partitions),
        ],
        stdout=subprocess.PIPE,
    )
    assert worker.stdout is not None
    assert worker.stdout.readline().decode().strip() == task_id
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    locked = await store.get(task_id)
    assert locked.state is TaskState.LOCKED and locked.worker_id == "doomed"

    async def back() -> bool:
        return (await store.get(task_id)).state is TaskState.AVAILABLE

    await _until(back)  # the scheduler, not a fetch, made it fetchable again
    assert wall_clock_ms() >= (locked.lock_expiration_time or 0)
    [again] = await store.fetch_and_lock("rescuer", 1, [TopicRequest("jobs", 10_000)])
    assert (again.id, again.worker_id, again.lock_token) == (task_id, "rescuer", 2)
    await store.complete(task_id, "rescuer")


async def test_a_due_retry_comes_back_and_exhausted_retries_raise_a_resolvable_incident(
    real_time_store: Store, scheduler: subprocess.Popen[bytes]
) -> None:
    store = real_time_store
    [task_id] = await store.publish_many([NewTask("jobs")])
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("jobs", 10_000)])
    assert await store.handle_failure(task_id, "w", "flaky", None, 1, 300) is TaskState.RETRY
    assert await store.fetch_and_lock("w", 1, [TopicRequest("jobs", 10_000)]) == []

    async def back() -> bool:
        return (await store.get(task_id)).state is TaskState.AVAILABLE

    await _until(back)
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("jobs", 10_000)])
    assert task.retries == 1 and task.error_message == "flaky"
    assert await store.handle_failure(task_id, "w", "dead", None, 0, 0) is TaskState.INCIDENT
    [incident] = await store.incidents()
    assert (incident.configuration, incident.incident_message) == (task_id, "dead")
    assert await store.topic_stats() == [TopicStats("jobs", 0, 0, 0, 1)]
    await asyncio.sleep(0.1)  # the scheduler leaves incidents alone
    assert await store.fetch_and_lock("w", 1, [TopicRequest("jobs", 10_000)]) == []

    await store.set_retries(task_id, 2)
    assert await store.incidents() == []
    [task] = await store.fetch_and_lock("w2", 1, [TopicRequest("jobs", 10_000)])
    assert (task.id, task.retries) == (task_id, 2)
