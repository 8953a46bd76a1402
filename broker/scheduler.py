"""The scheduler: sweeps expired locks and due retries back to fetchable, fires due timers
(timer start events too: ``broker.start_timers``), delivers signal throws still pending and
forgets ended process instances past their history retention, all in bounded batches.

Several schedulers may run at once: every sweep is an idempotent script. Each one keeps a
heartbeat key fresh so a liveness probe (``redtask scheduler --check``) can tell it is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from dataclasses import dataclass

from redtask.broker.connection import BACKEND_ERRORS
from redtask.broker.store import Store

log = logging.getLogger(__name__)


def default_scheduler_id() -> str:
    """The host name: unique per Kubernetes pod, and the same for a probe run in that pod."""
    return socket.gethostname()


@dataclass
class SchedulerCounts:
    """What the scheduler did since it started (exported as metrics by ``--metrics-port``)."""

    passes: int = 0
    tasks_swept: int = 0  # expired locks and due retries made fetchable again
    timers_fired: int = 0
    instances_forgotten: int = 0  # ended instances past their history retention
    redis_errors: int = 0
    last_pass_seconds: float = 0.0  # how long the last pass took
    last_pass_at: float = 0.0  # wall-clock time (s) the last pass ended; 0 = none yet


class Scheduler:
    def __init__(self, store: Store, scheduler_id: str | None = None) -> None:
        self.store = store
        self.id = scheduler_id or store.settings.scheduler_id or default_scheduler_id()
        self.interval = store.settings.scheduler_interval_ms / 1000
        # a probe allows a few missed beats before it calls the scheduler dead
        self.heartbeat_ttl_ms = max(5_000, 20 * store.settings.scheduler_interval_ms)
        self.moved_total = 0
        self.counts = SchedulerCounts()

    async def run_once(self) -> bool:
        """One pass over all partitions; True if due work is left (run again at once)."""
        started = time.perf_counter()
        moved, more = await self.store.sweep()
        fired = 0
        if self.store.models is not None:  # timers, start timers and signal throws
            batch = self.store.settings.scheduler_batch
            fired = await self.store.fire_due_timers(batch)
            instances = await self.store.fire_start_timers(batch)
            more = more or fired >= batch or instances >= batch
            more = await self.store.deliver_signals(batch) >= batch or more
            fired += instances
        forgotten, more_history = await self.store.trim_history()
        more = more or more_history
        self.moved_total += moved
        counts = self.counts
        counts.passes += 1
        counts.tasks_swept += moved
        counts.timers_fired += fired
        counts.instances_forgotten += forgotten
        counts.last_pass_seconds = time.perf_counter() - started
        counts.last_pass_at = time.time()
        if moved:
            log.debug("swept %d tasks back to fetchable", moved, extra={"scheduler_id": self.id})
        return more

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep until ``stop`` is set; Redis outages are logged and retried with backoff."""
        backoff = self.interval
        ids = {"scheduler_id": self.id}
        log.info(
            "scheduler %s started (interval %.0f ms)", self.id, self.interval * 1000, extra=ids
        )
        while not stop.is_set():
            try:
                await self.store.heartbeat(self.id, self.heartbeat_ttl_ms)
                more = await self.run_once()
                backoff = self.interval
            except BACKEND_ERRORS as exc:
                self.counts.redis_errors += 1
                log.warning(
                    "scheduler %s: Redis unavailable (%s); retrying", self.id, exc, extra=ids
                )
                more = False
                backoff = min(backoff * 2, 5.0)
            if more:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff)
        log.info("scheduler %s stopped after moving %d tasks", self.id, self.moved_total, extra=ids)
