"""The worker: pollers that fetch as much work as there is free capacity (one per poll lane,
each with its share of the concurrency, see ``lanes``), an executor that runs each task while
a lease keeper keeps its lock alive, a reporter that sends the outcome; on shutdown it drains."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

from redtask.worker.backoff import Backoff
from redtask.worker.executor import Executor
from redtask.worker.inflight import Lanes, Running
from redtask.worker.lanes import LaneGovernor
from redtask.worker.lease import LeaseKeeper
from redtask.worker.metrics import WorkerMetrics
from redtask.worker.poller import Poller, PollSettings
from redtask.worker.reporter import Reporter
from redtask.worker.router import Router
from redtask.worker.transport.base import Transport, lanes_of

log = logging.getLogger("redtask.worker")


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Worker(Router):
    """Runs registered handlers against a transport.

    ``concurrency`` bounds the tasks in flight (async handlers run on the loop, sync ones in a
    thread pool of that size, ``isolated`` ones in a process pool of ``processes``);
    ``poll_timeout`` (ms) is the long poll; ``grace`` (s) is how long a shutdown waits for
    in-flight tasks before unlocking them; ``reconnect`` paces retries while the gateway or
    Redis is unreachable.
    """

    def __init__(
        self,
        transport: Transport | None = None,
        *,
        worker_id: str | None = None,
        concurrency: int = 8,
        poll_timeout: int = 20_000,
        use_priority: bool = True,
        grace: float = 30.0,
        processes: int | None = None,
        reconnect: Backoff | None = None,
        lock_duration: int = 30_000,
        retries: int = 3,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(lock_duration=lock_duration, retries=retries, backoff=backoff)
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.transport = transport
        self.worker_id = worker_id or default_worker_id()
        self.concurrency = concurrency
        self.poll_timeout = poll_timeout
        self.use_priority = use_priority
        self.grace = grace
        self.processes = processes
        self.reconnect = reconnect or Backoff(initial_ms=200, max_ms=10_000, jitter=0.2)
        self._running: dict[str, Running] = {}
        self._stop: asyncio.Event | None = None
        self.metrics = WorkerMetrics(lambda: len(self._running))

    def stop(self) -> None:
        """Ask a running worker to drain and return (safe to call from a signal handler)."""
        if self._stop is not None:
            self._stop.set()

    @property
    def in_flight(self) -> int:
        return len(self._running)

    async def run(self) -> None:
        """Fetch and run tasks until :meth:`stop`; then finish or unlock in-flight tasks.

        Errors inside the worker are logged and ridden out. Raises RuntimeError if there is
        nothing to run, or if the poll loop ends on its own all the same (after draining)."""
        if not self.specs:
            raise RuntimeError("the worker has no task handlers; register some with @worker.task")
        if self.transport is None:
            raise RuntimeError("the worker has no transport")
        transport = self.transport
        self._stop = asyncio.Event()
        reporter = Reporter(transport, self.reconnect, self.metrics)
        executor = Executor(
            reporter,
            self._running,
            concurrency=self.concurrency,
            processes=self.processes,
            metrics=self.metrics,
        )
        settings = PollSettings(
            self.worker_id, self.poll_timeout, self.use_priority, self.reconnect
        )
        leases = LeaseKeeper(transport, self.metrics)
        lanes = Lanes(self.concurrency)
        for lane_transport in lanes_of(transport, self.concurrency):
            lanes.add(lane_transport)
        lanes.share(len(lanes.members))
        pollers = [
            Poller(
                lane,
                settings,
                self.specs,
                self._running,
                executor=executor,
                leases=leases,
                reporter=reporter,
                metrics=self.metrics,
            )
            for lane in lanes.members
        ]
        log.info(
            "worker %s started: topics %s, concurrency %d in %d poll lanes",
            self.worker_id,
            ", ".join(sorted(self.specs)),
            self.concurrency,
            len(pollers),
        )
        polling = [asyncio.create_task(poller.poll()) for poller in pollers]
        governing = None
        if getattr(transport, "adaptive_lanes", False):
            governing = asyncio.create_task(LaneGovernor(lanes).run())
        stopped = asyncio.create_task(self._stop.wait())
        try:
            # the poll loops survive every Exception; should one end anyway, leaving the worker
            # alive but idle would hide it: drain and raise instead (the CLI then exits 1)
            await asyncio.wait((*polling, stopped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if governing is not None:
                governing.cancel()
            ended = [p for p in polling if p.done()]
            for p in polling:
                p.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait(polling)
            await self._drain(reporter)
            executor.shutdown()
            await transport.aclose()
            log.info("worker %s stopped", self.worker_id)
        if ended:
            crash = None if ended[0].cancelled() else ended[0].exception()
            raise RuntimeError(f"worker {self.worker_id}: the poll loop ended") from crash

    async def _drain(self, reporter: Reporter) -> None:
        running = list(self._running.values())
        if not running:
            return
        log.info("waiting up to %.1fs for %d in-flight tasks", self.grace, len(running))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace
        # a job's future changes as it goes (its task, then the commit of its completion):
        # wait until none is left or the grace period is over
        while True:
            jobs = {r.job for r in self._running.values() if r.job and not r.job.done()}
            left = deadline - loop.time()
            if not jobs or left <= 0:
                break
            await asyncio.wait(jobs, timeout=left)
        pending = []
        for r in list(self._running.values()):
            if r.job is not None and not r.job.done():
                r.lost = True  # whatever the handler returns now is not reported
                r.job.cancel()
                pending.append(r.job)
                await reporter.unlock_unfinished(r)
        if pending:
            await asyncio.wait(pending, timeout=1.0)
