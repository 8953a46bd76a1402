"""The concurrency bound: a worker runs at most ``concurrency`` handlers at once and never
fetches more than its free capacity, in-process and as `redtask worker --concurrency N`."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from redtask.broker.model import NewTask
from redtask.broker.store import Store
from redtask.worker import ExternalTask, Worker
from redtask.worker.transport.base import Transport
from tests.worker.helpers import (
    Faulty,
    eventually,
    finished,
    running,
    sleep_for,
    worker_process,
)

CONCURRENCY = 3


class Gauge:
    """Counts handlers inside at once (from the loop or from handler threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside = self.peak = self.entries = 0
        self.handled: list[str] = []

    def enter(self, task_id: str) -> int:
        """Returns the number of entries before this one."""
        with self.lock:
            self.inside += 1
            self.peak = max(self.peak, self.inside)
            self.handled.append(task_id)
            self.entries += 1
            return self.entries - 1

    def leave(self) -> None:
        with self.lock:
            self.inside -= 1


def staggered(entry: int) -> float:
    """Handlers end at different times, so capacity frees up one slot at a time."""
    return 0.05 * (1 + entry % 4)


@pytest.mark.parametrize("handler_kind", ["async", "sync"])
async def test_no_more_than_concurrency_handlers_run_and_fetches_ask_for_the_free_capacity(
    handler_kind: str, store: Store, topic: str, make_transport: Callable[[], Transport]
) -> None:
    ids = await store.publish_many([NewTask(topic) for _ in range(12)])
    transport = Faulty(make_transport())
    worker = Worker(transport, concurrency=CONCURRENCY, poll_timeout=500)
    gauge = Gauge()
    fetches: list[tuple[int, int]] = []  # (max_tasks asked, tasks in flight then)
    transport.before_fetch = lambda max_tasks: fetches.append((max_tasks, worker.in_flight))

    if handler_kind == "async":

        @worker.task(topic)
        async def work_async(task: ExternalTask) -> None:
            entry = gauge.enter(task.id)
            await asyncio.sleep(staggered(entry))
            gauge.leave()

    else:

        @worker.task(topic)
        def work_sync(task: ExternalTask) -> None:
            entry = gauge.enter(task.id)
            time.sleep(staggered(entry))
            gauge.leave()

    async with running(worker):
        for task_id in ids:
            await eventually(lambda task_id=task_id: finished(store, task_id), timeout=15)

    assert sorted(gauge.handled) == sorted(ids)
    assert gauge.peak == CONCURRENCY
    assert fetches[0] == (CONCURRENCY, 0)
    assert all(asked == CONCURRENCY - in_flight for asked, in_flight in fetches), fetches
    assert {asked for asked, _ in fetches} <= {1, 2, 3}
    assert 1 in {asked for asked, _ in fetches}  # a single free slot is filled on its own


def most_at_once(marks: Path, task_ids: list[str]) -> int:
    """The most handlers running at once, from the times their marker files were written
    (at a tie, an end counts before a start: the worker starts a task only after one ends)."""
    events = []
    for task_id in task_ids:
        events.append(((marks / f"{task_id}.started").stat().st_mtime_ns, 1))
        events.append(((marks / f"{task_id}.done").stat().st_mtime_ns, -1))
    inside = peak = 0
    for _, step in sorted(events):
        inside += step
        peak = max(peak, inside)
    return peak


@pytest.mark.parametrize("transport_kind", ["redis"])
async def test_the_worker_command_honours_concurrency(
    store: Store,
    topic: str,
    transport_kind: str,
    api: str,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    ids = await store.publish_many([NewTask(topic, variables=sleep_for(0.4)) for _ in range(6)])
    with worker_process(
        env, transport_kind, api, topic, tmp_path, worker_id="w", extra=("--concurrency", "2")
    ) as proc:
        for task_id in ids:
            await eventually(lambda task_id=task_id: finished(store, task_id), timeout=20)
        assert proc.poll() is None

    assert most_at_once(tmp_path, ids) == 2
