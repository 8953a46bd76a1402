"""The lease keeper: extends the locks of handlers that run longer than half their lock."""

from __future__ import annotations

import asyncio
import logging
import time

from redtask.worker.errors import Rejected, TaskLost, Unavailable
from redtask.worker.inflight import Batch, Running
from redtask.worker.metrics import WorkerMetrics
from redtask.worker.transport.base import Transport

log = logging.getLogger("redtask.worker")


class LeaseKeeper:
    """One timer per fetched batch, at half its lock duration; a keeper task per handler that
    is still running then, extending its lock every half duration until the handler returns."""

    def __init__(self, transport: Transport, metrics: WorkerMetrics | None = None) -> None:
        self.transport = transport
        self.metrics = metrics or WorkerMetrics()

    def watch(self, batch: Batch, duration: int, loop: asyncio.AbstractEventLoop) -> None:
        """Start the batch's timer (``duration`` is its lock duration in ms)."""
        batch.timer = loop.call_later(duration / 2000, self._start_keepers, batch)

    def _start_keepers(self, batch: Batch) -> None:
        for running in batch.members:
            if running.handling:
                running.keeper = asyncio.create_task(self._keep_locked(running))

    async def _keep_locked(self, running: Running) -> None:
        """Extend the lock (we are at half its duration) and again at every half duration for
        as long as the handler runs."""
        duration = running.spec.subscription.lock_duration
        while True:
            try:
                await self.transport.extend_lock(running.task, duration)
            except TaskLost as exc:
                running.lost = True
                log.warning("lock of task %s lost: %s", running.task.id, exc)
                return
            except Exception as exc:  # a keeper ended by a bug would let the lock run out
                log.warning(
                    "extendLock of task %s failed (%s); retrying",
                    running.task.id,
                    exc,
                    exc_info=not isinstance(exc, Unavailable | Rejected),
                )
                await asyncio.sleep(min(1.0, duration / 4000))
                continue  # not the half-duration wait below: the lock may end before it
            else:
                running.deadline = time.monotonic() + duration / 1000
                self.metrics.of(self.metrics.lock_extensions, running.spec.topic).inc()
            await asyncio.sleep(
                max(duration / 2000, running.deadline - time.monotonic() - duration / 2000)
            )
