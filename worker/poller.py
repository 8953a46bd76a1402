"""The poller: fetches as much work as there is free capacity and dispatches each task."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from redtask.worker.backoff import Backoff
from redtask.worker.errors import Rejected, Unavailable
from redtask.worker.executor import Executor
from redtask.worker.inflight import Batch, Lane, Running
from redtask.worker.lease import LeaseKeeper
from redtask.worker.metrics import WorkerMetrics
from redtask.worker.reporter import Reporter
from redtask.worker.router import TaskSpec
from redtask.worker.task import ExternalTask
from redtask.worker.transport.base import Transport

log = logging.getLogger("redtask.worker")


@dataclass(frozen=True, slots=True)
class PollSettings:
    """How the poller fetches: ``poll_timeout`` (ms) is the long poll; ``reconnect`` paces
    retries while fetching fails."""

    worker_id: str
    poll_timeout: int
    use_priority: bool
    reconnect: Backoff


class Poller:
    """Fetches for ``specs`` into ``running`` (the worker's in-flight tasks by id) through its
    ``lane``, never holding more than the lane's concurrency at once; waits on the lane's
    capacity while full."""

    def __init__(
        self,
        lane: Lane,
        settings: PollSettings,
        specs: Mapping[str, TaskSpec],
        running: dict[str, Running],
        *,
        executor: Executor,
        leases: LeaseKeeper,
        metrics: WorkerMetrics | None = None,
        reporter: Reporter,
    ) -> None:
        self.lane = lane
        self.transport: Transport = lane.transport
        self.settings = settings
        self.specs = specs
        self.running = running
        self.executor = executor
        self.leases = leases
        self.metrics = metrics or WorkerMetrics()
        self.reporter = reporter

    async def poll(self) -> None:
        """The fetch loop: survives every Exception, pacing retries with ``reconnect``."""
        settings = self.settings
        subscriptions = [spec.subscription for spec in self.specs.values()]
        failures = 0
        lane = self.lane
        while True:
            free = lane.free()
            if free <= 0:
                lane.capacity.clear()
                await lane.capacity.wait()
                continue
            try:
                lane.hold(free)  # the room asked for: no other lane may fill it meanwhile
                try:
                    tasks = await self.transport.fetch_and_lock(
                        settings.worker_id,
                        free,
                        subscriptions,
                        use_priority=settings.use_priority,
                        wait_ms=settings.poll_timeout,
                    )
                finally:
                    lane.hold(-free)  # the tasks fetched are held from their dispatch on
                self._count_fetched(tasks)
                undispatched = self._dispatch(tasks)
                for task in undispatched:
                    await self.reporter.give_back(task)
            except (Unavailable, Rejected) as exc:
                delay = settings.reconnect.delay_ms(failures) / 1000
                log.warning("fetchAndLock failed (%s); retrying in %.2fs", exc, delay)
            except Exception:
                # a bug or a malformed response must not end the loop: the worker would stay up
                # consuming nothing. Tasks locked by a fetch we could not read come back when
                # their lock ends.
                delay = settings.reconnect.delay_ms(failures) / 1000
                log.exception(
                    "worker %s: poll loop error; retrying in %.2fs", settings.worker_id, delay
                )
            else:
                if len(tasks) < free:  # room left unused: a lane waiting for it may take it
                    lane.worker.wake()
                if not undispatched:
                    if failures:
                        log.info("fetchAndLock works again after %d failed attempts", failures)
                    failures = 0
                    continue
                # a bug failing every dispatch must not spin through the same tasks
                delay = settings.reconnect.delay_ms(failures) / 1000
            lane.worker.wake()
            failures += 1
            await asyncio.sleep(delay)

    def _count_fetched(self, tasks: list[ExternalTask]) -> None:
        if not tasks:
            return
        topic = tasks[0].topic_name
        if all(t.topic_name == topic for t in tasks):
            self.metrics.of(self.metrics.fetched, topic).inc(len(tasks))
            return
        for task in tasks:
            self.metrics.of(self.metrics.fetched, task.topic_name).inc()

    def _dispatch(self, tasks: list[ExternalTask]) -> list[ExternalTask]:
        """Start a job for each task; returns the tasks that could not be started (their
        topic has no handler, or the registry failed), logged with the traceback."""
        now = time.monotonic()
        batches: dict[int, Batch] = {}
        undispatched: list[ExternalTask] = []
        for task in tasks:
            try:
                spec = self.specs[task.topic_name]
                duration = spec.subscription.lock_duration
            except Exception:
                log.exception("task %s (%s) cannot be dispatched", task.id, task.topic_name)
                undispatched.append(task)
                continue
            batch = batches.get(duration)
            if batch is None:
                batch = batches[duration] = Batch()
            running = Running(task, spec, now + duration / 1000, batch, lane=self.lane)
            batch.members.append(running)
            batch.handling += 1
            self.running[task.id] = running
            self.lane.hold(1)
            self.executor.start(running)
        loop = asyncio.get_running_loop()
        for duration, batch in batches.items():
            self.leases.watch(batch, duration, loop)
        return undispatched
