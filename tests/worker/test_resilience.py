"""Faults inside a running worker never stop it silently: a bug in the poll loop, a lock keeper,
the completion batcher or the wake-up listener is logged with its traceback and the worker keeps
consuming until every task ends; were the poll loop to end anyway, run() fails instead of idling.
Faults are injected around real transports and stores on a real Redis."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence

import pytest

from redtask.broker.connection import client_for
from redtask.broker.model import NewTask, TaskState
from redtask.broker.query import TaskQuery
from redtask.broker.settings import Settings
from redtask.broker.store import Completion, Store
from redtask.broker.store_base import wall_clock_ms
from redtask.worker import Backoff, ExternalTask, Worker
from redtask.worker.errors import Unavailable
from redtask.worker.router import TaskSpec
from redtask.worker.transport.base import Transport
from redtask.worker.transport.redis import RedisTransport
from tests.worker.helpers import Faulty, eventually, finished, running

QUICK = Backoff(initial_ms=100, max_ms=100, jitter=0)


class FlakyRegistry(dict[str, TaskSpec]):
    """A worker's handler registry whose first lookup fails (a bug in dispatching)."""

    def __init__(self, specs: Mapping[str, TaskSpec]) -> None:
        super().__init__(specs)
        self.failures = 1

    def __getitem__(self, topic: str) -> TaskSpec:
        if self.failures:
            self.failures -= 1
            raise KeyError(topic)
        return super().__getitem__(topic)


class Fatal(BaseException):
    """Gets past ``except Exception``: stands for any way the poll loop could still end."""


class FaultyStore(Store):
    """The broker's store with a bug that strikes once, if enabled: the first ``complete_many``
    answers with no results (and completes nothing), or the first wake-up subscription fails."""

    miscount = False
    miscounted: list[str]
    break_wake_ups = False
    subscriptions = 0
    woken_topics: list[str]

    async def complete_many(
        self, items: Sequence[Completion], *, strict: bool = False
    ) -> list[Exception | None]:
        if self.miscount and not self.miscounted:
            self.miscounted = [item.task_id for item in items]
            return []
        return await super().complete_many(items, strict=strict)

    async def wake_ups(self) -> AsyncIterator[str]:
        self.subscriptions += 1
        if self.break_wake_ups and self.subscriptions == 1:
            raise RuntimeError("wake-up bug")
        async for topic in super().wake_ups():
            self.woken_topics.append(topic)
            yield topic


@pytest.fixture
async def faulty_store(worker_settings: Settings) -> AsyncIterator[FaultyStore]:
    assert worker_settings.redis_url
    client = client_for(worker_settings.redis_url)
    store = FaultyStore(client, worker_settings, wall_clock_ms)
    store.miscounted, store.woken_topics = [], []
    try:
        yield store
    finally:
        await client.aclose()


async def publish(store: Store, topic: str, n: int) -> list[str]:
    return await store.publish_many([NewTask(topic) for _ in range(n)])


async def all_done(store: Store, topic: str) -> bool:
    return await store.count(TaskQuery(topic_name=topic)) == 0


def logged(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    """The records whose message contains ``text``."""
    return [r for r in caplog.records if text in r.getMessage()]


async def test_a_task_that_cannot_be_dispatched_is_unlocked_at_once_and_polling_goes_on(
    store: Store,
    topic: str,
    make_transport: Callable[[], Transport],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = await publish(store, topic, 8)
    # a minute's lock: only the unlock can bring the refused task back within the test
    worker = Worker(
        make_transport(), concurrency=4, poll_timeout=500, lock_duration=60_000, reconnect=QUICK
    )
    handled: list[str] = []

    @worker.task(topic)
    async def work(task: ExternalTask) -> None:
        handled.append(task.id)

    worker.specs = FlakyRegistry(worker.specs)
    async with running(worker):
        await eventually(lambda: all_done(store, topic), timeout=10)

    assert sorted(handled) == sorted(ids)
    [refused] = logged(caplog, "cannot be dispatched")
    refused_id = refused.getMessage().split()[1]
    assert refused.getMessage() == f"task {refused_id} ({topic}) cannot be dispatched"
    assert refused.exc_info is not None and refused.exc_info[0] is KeyError
    [unlocked] = logged(caplog, "which could not be dispatched")
    assert unlocked.getMessage() == (
        f"unlocked task {refused_id} ({topic}), which could not be dispatched"
    )
    assert refused_id in ids


async def test_a_malformed_fetch_reply_is_logged_and_polling_goes_on(
    store: Store,
    topic: str,
    make_transport: Callable[[], Transport],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = await publish(store, topic, 6)
    transport = Faulty(make_transport())
    transport.garbled_fetches = 1  # its tasks stay locked: they come back after their lock
    worker = Worker(
        transport,
        worker_id="survivor",
        concurrency=3,
        poll_timeout=500,
        lock_duration=1_000,
        reconnect=QUICK,
    )
    handled: list[str] = []

    @worker.task(topic)
    async def work(task: ExternalTask) -> None:
        handled.append(task.id)

    async with running(worker):
        await eventually(lambda: all_done(store, topic), timeout=15)

    assert sorted(handled) == sorted(ids)
    [error] = logged(caplog, "worker survivor: poll loop error")
    assert error.getMessage() == "worker survivor: poll loop error; retrying in 0.10s"
    assert error.exc_info is not None
    assert repr(error.exc_info[1]) == "ValueError('malformed fetchAndLock reply (3 tasks)')"


async def test_a_lock_keeper_that_meets_a_bug_keeps_the_lock_alive(
    store: Store,
    topic: str,
    make_transport: Callable[[], Transport],
    caplog: pytest.LogCaptureFixture,
) -> None:
    task_id = await store.publish(NewTask(topic))
    transport = Faulty(make_transport())
    transport.faults["extend_lock"] = [RuntimeError("keeper bug")]
    slow = Worker(transport, worker_id="slow", lock_duration=1_000, poll_timeout=500)
    rival = Worker(make_transport(), worker_id="rival", lock_duration=1_000, poll_timeout=200)
    calls: list[str] = []

    @slow.task(topic)
    async def long_work(task: ExternalTask) -> None:
        calls.append(task.worker_id)
        await asyncio.sleep(2.5)  # the first extension (at 0.5 s) fails

    @rival.task(topic)
    async def competing(task: ExternalTask) -> None:
        calls.append(task.worker_id)

    async with running(slow):
        await eventually(lambda: asyncio.sleep(0, calls))
        async with running(rival):  # would get the task if the lock ran out
            await eventually(lambda: finished(store, task_id), timeout=10)

    assert calls == ["slow"]
    [failed] = logged(caplog, f"extendLock of task {task_id}")
    assert failed.getMessage() == f"extendLock of task {task_id} failed (keeper bug); retrying"
    assert failed.exc_info is not None and failed.exc_info[0] is RuntimeError


async def test_a_completion_batch_that_goes_wrong_fails_its_waiters_instead_of_hanging(
    faulty_store: FaultyStore, store: Store, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await publish(store, topic, 4)
    faulty_store.miscount = True
    # one task at a time: a completion left hanging would stop the worker altogether
    worker = Worker(
        RedisTransport(store=faulty_store), concurrency=1, poll_timeout=500, lock_duration=1_000
    )
    handled: list[str] = []

    @worker.task(topic)
    async def work(task: ExternalTask) -> None:
        handled.append(task.id)

    async with running(worker):
        await eventually(lambda: all_done(store, topic), timeout=15)

    [miscounted] = faulty_store.miscounted
    # completed on its second delivery, after the lock of the first ran out
    assert Counter(handled) == {i: 2 if i == miscounted else 1 for i in ids}
    [error] = logged(caplog, f"task {miscounted} ({topic}): unexpected error")
    assert error.exc_info is not None
    assert repr(error.exc_info[1]) == "RuntimeError('0 results for 1 completions')"


async def test_the_wake_up_listener_resubscribes_after_a_bug(
    faulty_store: FaultyStore, store: Store, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    faulty_store.break_wake_ups = True
    worker = Worker(RedisTransport(store=faulty_store), concurrency=2, poll_timeout=20_000)
    handled: list[str] = []

    @worker.task(topic)
    async def work(task: ExternalTask) -> None:
        handled.append(task.id)

    ids: list[str] = []

    async def woken() -> bool:
        ids.extend(await publish(store, topic, 1))
        return topic in faulty_store.woken_topics

    async with running(worker):
        await eventually(lambda: asyncio.sleep(0, faulty_store.subscriptions == 2))
        await eventually(woken, interval=0.2)  # once resubscribed, wake-ups arrive again
        await eventually(lambda: all_done(store, topic), timeout=10)

    assert sorted(handled) == sorted(ids)
    assert topic in faulty_store.woken_topics
    [lost] = logged(caplog, "wake-up subscription lost")
    assert (
        lost.getMessage()
        == "wake-up subscription lost (RuntimeError('wake-up bug')); resubscribing"
    )
    assert (lost.levelno, lost.exc_info is not None) == (logging.ERROR, True)


@pytest.mark.parametrize("transport_kind", ["redis"])
async def test_if_the_poll_loop_ends_anyway_run_drains_and_fails_instead_of_idling(
    store: Store, topic: str, make_transport: Callable[[], Transport]
) -> None:
    task_id = await store.publish(NewTask(topic))
    transport = Faulty(make_transport())
    transport.faults["fetch_and_lock"] = [None, Fatal("the second fetch")]
    worker = Worker(transport, worker_id="w", concurrency=2, poll_timeout=500, grace=10)
    done: list[str] = []

    @worker.task(topic)
    async def work(task: ExternalTask) -> None:
        await asyncio.sleep(0.3)
        done.append(task.id)

    with pytest.raises(RuntimeError) as caught:
        await asyncio.wait_for(worker.run(), 15)

    assert str(caught.value) == "worker w: the poll loop ended"
    assert repr(caught.value.__cause__) == "Fatal('the second fetch')"
    assert done == [task_id]  # the in-flight task was drained first
    assert await finished(store, task_id)


async def test_a_draining_worker_cannot_unlock_a_task_another_worker_has_locked_since(
    store: Store, topic: str, worker_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    task_id = await store.publish(NewTask(topic))
    cut_off = Faulty(RedisTransport(worker_settings))  # cannot extend: its lock runs out
    cut_off.faults["extend_lock"] = [Unavailable("partitioned")] * 100
    first = Worker(
        cut_off, worker_id="first", concurrency=1, lock_duration=1_000, grace=0.1, poll_timeout=500
    )
    second = Worker(
        RedisTransport(worker_settings), worker_id="second", lock_duration=60_000, poll_timeout=200
    )
    release = asyncio.Event()
    tokens: dict[str, int | None] = {}

    @first.task(topic)
    async def stuck(task: ExternalTask) -> None:
        tokens["first"] = task.lock_token
        await asyncio.sleep(60)

    @second.task(topic)
    async def takes_over(task: ExternalTask) -> None:
        tokens["second"] = task.lock_token
        await release.wait()

    first_run = asyncio.create_task(first.run())
    try:
        await eventually(lambda: asyncio.sleep(0, "first" in tokens))
        async with running(second):
            await eventually(lambda: asyncio.sleep(0, "second" in tokens), timeout=10)
            first.stop()  # its drain unlocks with its own token, stale by now
            await asyncio.wait_for(first_run, 10)
            task = await store.get(task_id)
            assert (task.state, task.worker_id, task.lock_token) == (
                TaskState.LOCKED,
                "second",
                2,
            )
            release.set()
            await eventually(lambda: finished(store, task_id))
    finally:
        first.stop()
        await asyncio.wait_for(first_run, 10)

    assert tokens == {"first": 1, "second": 2}
    [refused] = logged(caplog, f"could not unlock task {task_id}")
    assert refused.getMessage() == (
        f"could not unlock task {task_id}: External task {task_id}: lock token 1 is stale "
        "(current 2)"
    )
