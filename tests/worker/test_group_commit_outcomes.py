"""A completion handed to a direct-Redis lane's group commit: the job's place is freed only once
the commit has answered, and each answer is handled as an awaited completion would be: a task
that is no longer ours is dropped with a warning, a refused completion is reported as a failure,
Redis away means sending again, and a graceful stop waits for commits still on their way (or
unlocks their tasks once the grace period is over). On a real Redis."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence

import pytest
import redis.exceptions

from redtask.broker.connection import client_for
from redtask.broker.model import NewTask, TaskState, TopicRequest
from redtask.broker.settings import Settings
from redtask.broker.store import Completion, Store
from redtask.broker.store_base import wall_clock_ms
from redtask.worker import Backoff, ExternalTask, Worker
from redtask.worker.transport.redis import RedisTransport
from tests.worker.helpers import eventually, finished, running

QUICK = Backoff(initial_ms=50, max_ms=50, jitter=0)


class CommitStore(Store):
    """The broker's store whose ``complete_many`` may first wait ``delay`` seconds, and whose
    first ``broken`` calls raise a connection error (nothing completed)."""

    delay = 0.0
    broken = 0
    calls = 0

    async def complete_many(
        self, items: Sequence[Completion], *, strict: bool = False
    ) -> list[Exception | None]:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.broken:
            self.broken -= 1
            raise redis.exceptions.ConnectionError("connection reset (injected)")
        return await super().complete_many(items, strict=strict)


@pytest.fixture
async def commit_store(worker_settings: Settings) -> AsyncIterator[CommitStore]:
    assert worker_settings.redis_url
    client = client_for(worker_settings.redis_url)
    try:
        yield CommitStore(client, worker_settings, wall_clock_ms)
    finally:
        await client.aclose()


def messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


async def test_a_task_taken_over_while_its_handler_ran_is_dropped_and_the_worker_goes_on(
    commit_store: CommitStore, store: Store, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    [taken, other] = await store.publish_many([NewTask(topic), NewTask(topic)])
    worker = Worker(RedisTransport(store=commit_store), concurrency=1, poll_timeout=300)
    handled: list[str] = []

    @worker.task(topic, lock_duration=60_000)
    async def work(task: ExternalTask) -> None:
        handled.append(task.id)
        if task.id == taken:  # another worker gets the task before our completion arrives
            await store.unlock(taken)
            [relocked] = await store.fetch_and_lock("thief", 1, [TopicRequest(topic, 60_000)])
            assert relocked.id == taken

    async with running(worker):
        await eventually(lambda: asyncio.sleep(0, len(handled) == 2 and not worker.in_flight))
        assert await eventually(lambda: finished(store, other))

    assert sorted(handled) == sorted([taken, other])
    record = await store.get(taken)
    assert (record.state, record.worker_id) == (TaskState.LOCKED, "thief")
    [dropped] = messages(caplog, "is no longer ours")
    assert dropped.startswith(f"task {taken} is no longer ours (")
    assert dropped.endswith("); outcome dropped")


async def test_a_refused_completion_is_reported_as_a_failure(
    worker_settings: Settings, store: Store, topic: str
) -> None:
    small = worker_settings.model_copy(update={"max_variables_bytes": 1024})
    client = client_for(small.redis_url or "")
    strict_store = Store(client, small, wall_clock_ms)
    [task_id] = await store.publish_many([NewTask(topic, retries=3)])
    worker = Worker(RedisTransport(store=strict_store), concurrency=1, poll_timeout=300)

    @worker.task(topic, lock_duration=60_000, retries=3, backoff=Backoff(60_000, 60_000, jitter=0))
    async def work() -> dict[str, str]:
        return {"blob": "x" * 4096}  # more than the store takes

    try:
        async with running(worker):
            record = await eventually(lambda: failed(store, task_id))
    finally:
        await client.aclose()
    assert record.error_message is not None
    assert record.error_message.startswith("could not report the result: ")
    assert "1024" in record.error_message
    assert (record.state, record.retries) == (TaskState.RETRY, 2)


async def failed(store: Store, task_id: str) -> object:
    record = await store.get(task_id)
    return record if record.error_message else None


async def test_a_commit_that_meets_redis_away_is_sent_again(
    commit_store: CommitStore, store: Store, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    commit_store.broken = 1
    ids = await store.publish_many([NewTask(topic) for _ in range(3)])
    worker = Worker(
        RedisTransport(store=commit_store, lanes=1),
        concurrency=3,
        poll_timeout=300,
        reconnect=QUICK,
    )
    handled: list[str] = []

    @worker.task(topic, lock_duration=60_000)
    async def work(task: ExternalTask) -> None:
        handled.append(task.id)

    async with running(worker):
        for task_id in ids:
            await eventually(lambda i=task_id: finished(store, i))
    assert sorted(handled) == sorted(ids)  # each handled once: only its report was sent again
    retried = messages(caplog, "failed (redis")
    assert retried and all("retrying in 0.05s" in m for m in retried)


async def test_a_graceful_stop_waits_for_commits_under_way(
    commit_store: CommitStore, store: Store, topic: str
) -> None:
    commit_store.delay = 0.5
    [task_id] = await store.publish_many([NewTask(topic)])
    worker = Worker(RedisTransport(store=commit_store), concurrency=1, poll_timeout=300, grace=5)
    handled = asyncio.Event()

    @worker.task(topic, lock_duration=60_000)
    async def work() -> None:
        handled.set()
        await asyncio.sleep(0.3)  # the stop comes while the handler runs

    job = asyncio.create_task(worker.run())
    await asyncio.wait_for(handled.wait(), 10)
    worker.stop()
    await asyncio.sleep(0.4)  # the handler has returned: its commit is under way
    assert commit_store.calls == 1 and worker.in_flight == 1 and not job.done()
    await asyncio.wait_for(job, 10)
    assert await finished(store, task_id)  # completed, not left locked
    assert worker.in_flight == 0


async def test_a_commit_outlasting_the_grace_period_gives_its_task_back(
    commit_store: CommitStore, store: Store, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "redtask.worker")
    commit_store.delay = 30
    [task_id] = await store.publish_many([NewTask(topic)])
    worker = Worker(RedisTransport(store=commit_store), concurrency=1, poll_timeout=300, grace=0.3)
    handled = asyncio.Event()

    @worker.task(topic, lock_duration=60_000)
    async def work() -> None:
        handled.set()

    job = asyncio.create_task(worker.run())
    await asyncio.wait_for(handled.wait(), 10)
    await asyncio.sleep(0.05)
    worker.stop()
    await asyncio.wait_for(job, 10)  # not the 30 s of the commit
    record = await store.get(task_id)
    assert (record.state, record.worker_id) == (TaskState.AVAILABLE, None)
    assert messages(caplog, "after the grace period") == [
        f"unlocked task {task_id} ({topic}) after the grace period"
    ]
    assert worker.in_flight == 0
