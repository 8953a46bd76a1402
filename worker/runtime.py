"""The worker runtime: a poller that fetches as much work as there is free capacity, runs each
task with its lock kept alive, reports the outcome, and drains on shutdown."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redtask.worker.backoff import Backoff
from redtask.worker.errors import Rejected, TaskLost, Unavailable
from redtask.worker.handler import Failed, Outcome, outcome_of_error, outcome_of_result
from redtask.worker.router import Router, TaskSpec
from redtask.worker.task import BpmnError, Complete, ExternalTask
from redtask.worker.transport.base import Transport
from redtask.worker.values import to_typed_map

log = logging.getLogger("redtask.worker")


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(slots=True)
class _Running:
    task: ExternalTask
    spec: TaskSpec
    deadline: float  # monotonic time our lock ends, as far as we know
    batch: _Batch
    job: asyncio.Task[None] | None = None
    keeper: asyncio.Task[None] | None = None  # only once the handler has run half the lock
    handling: bool = True  # the handler has not returned yet
    lost: bool = False


@dataclass(slots=True)
class _Batch:
    """Tasks fetched together with one lock duration. Most handlers end long before half
    their lock, so instead of a lock keeper each, the batch has one timer, which starts keepers
    for the handlers still running at half the lock (and is cancelled when none is left)."""

    members: list[_Running] = field(default_factory=list)
    handling: int = 0
    timer: asyncio.TimerHandle | None = None

    def handler_returned(self) -> None:
        self.handling -= 1
        if self.handling == 0:
            if self.timer is not None:
                self.timer.cancel()
            self.members.clear()  # members point back here: let refcounting free them


def _call(function: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    return function(**kwargs)


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
        self._running: dict[str, _Running] = {}
        self._stop: asyncio.Event | None = None
        self._capacity: asyncio.Event | None = None
        self._threads: concurrent.futures.ThreadPoolExecutor | None = None
        self._process_pool: concurrent.futures.ProcessPoolExecutor | None = None

    # ------------------------------------------------------------------ lifecycle

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
        self._stop, self._capacity = asyncio.Event(), asyncio.Event()
        self._threads = concurrent.futures.ThreadPoolExecutor(
            self.concurrency, thread_name_prefix="redtask-handler"
        )
        log.info(
            "worker %s started: topics %s, concurrency %d",
            self.worker_id,
            ", ".join(sorted(self.specs)),
            self.concurrency,
        )
        poller = asyncio.create_task(self._poll(transport))
        stopped = asyncio.create_task(self._stop.wait())
        try:
            # the poll loop survives every Exception; should it end anyway, leaving the worker
            # alive but idle would hide it: drain and raise instead (the CLI then exits 1)
            await asyncio.wait((poller, stopped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            ended = poller.done()
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait((poller,))
            await self._drain(transport)
            self._shutdown_executors()
            await transport.aclose()
            log.info("worker %s stopped", self.worker_id)
        if ended:
            crash = None if poller.cancelled() else poller.exception()
            raise RuntimeError(f"worker {self.worker_id}: the poll loop ended") from crash

    async def _drain(self, transport: Transport) -> None:
        running = list(self._running.values())
        if not running:
            return
        log.info("waiting up to %.1fs for %d in-flight tasks", self.grace, len(running))
        jobs = [r.job for r in running if r.job is not None]
        _, pending = await asyncio.wait(jobs, timeout=self.grace) if jobs else (set(), set())
        for r in list(self._running.values()):
            if r.job is not None and r.job in pending:
                r.lost = True  # whatever the handler returns now is not reported
                r.job.cancel()
                try:
                    await transport.unlock(r.task)
                    log.info(
                        "unlocked task %s (%s) after the grace period", r.task.id, r.spec.topic
                    )
                except (Unavailable, TaskLost, Rejected) as exc:
                    log.warning("could not unlock task %s: %s", r.task.id, exc)
        if pending:
            await asyncio.wait(pending, timeout=1.0)

    def _shutdown_executors(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
        if self._process_pool is not None:
            # handlers still running past the grace period are stopped with their processes
            for process in list(getattr(self._process_pool, "_processes", {}).values()):
                process.terminate()
            self._process_pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ fetching

    async def _poll(self, transport: Transport) -> None:
        assert self._capacity is not None
        subscriptions = [spec.subscription for spec in self.specs.values()]
        failures = 0
        while True:
            free = self.concurrency - len(self._running)
            if free <= 0:
                self._capacity.clear()
                await self._capacity.wait()
                continue
            try:
                tasks = await transport.fetch_and_lock(
                    self.worker_id,
                    free,
                    subscriptions,
                    use_priority=self.use_priority,
                    wait_ms=self.poll_timeout,
                )
                undispatched = self._dispatch(transport, tasks)
                for task in undispatched:
                    await self._give_back(transport, task)
            except (Unavailable, Rejected) as exc:
                delay = self.reconnect.delay_ms(failures) / 1000
                log.warning("fetchAndLock failed (%s); retrying in %.2fs", exc, delay)
            except Exception:
                # a bug or a malformed response must not end the loop: the worker would stay up
                # consuming nothing. Tasks locked by a fetch we could not read come back when
                # their lock ends.
                delay = self.reconnect.delay_ms(failures) / 1000
                log.exception(
                    "worker %s: poll loop error; retrying in %.2fs", self.worker_id, delay
                )
            else:
                if not undispatched:
                    if failures:
                        log.info("fetchAndLock works again after %d failed attempts", failures)
                    failures = 0
                    continue
                # a bug failing every dispatch must not spin through the same tasks
                delay = self.reconnect.delay_ms(failures) / 1000
            failures += 1
            await asyncio.sleep(delay)

    def _dispatch(self, transport: Transport, tasks: list[ExternalTask]) -> list[ExternalTask]:
        """Start a job for each task; returns the tasks that could not be started (their
        topic has no handler, or the registry failed), logged with the traceback."""
        now = time.monotonic()
        batches: dict[int, _Batch] = {}
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
                batch = batches[duration] = _Batch()
            running = _Running(task, spec, now + duration / 1000, batch)
            batch.members.append(running)
            batch.handling += 1
            self._running[task.id] = running
            running.job = asyncio.create_task(self._execute(transport, running))
        loop = asyncio.get_running_loop()
        for duration, batch in batches.items():
            batch.timer = loop.call_later(duration / 2000, self._start_keepers, transport, batch)
        return undispatched

    async def _give_back(self, transport: Transport, task: ExternalTask) -> None:
        """Unlock a task we cannot run, so that it is fetched again at once (by us or another
        worker). Not a failure report: the fault is ours, and should not cost the task a retry
        or raise an incident."""
        try:
            await transport.unlock(task)
            log.warning(
                "unlocked task %s (%s), which could not be dispatched", task.id, task.topic_name
            )
        except (Unavailable, TaskLost, Rejected) as exc:
            log.warning(
                "could not unlock task %s (%s); it comes back when its lock ends", task.id, exc
            )

    # ------------------------------------------------------------------ running a task

    async def _execute(self, transport: Transport, running: _Running) -> None:
        task, spec = running.task, running.spec
        try:
            try:
                outcome = await self._invoke(spec, task)
            finally:
                running.handling = False
                running.batch.handler_returned()
                if running.keeper is not None:
                    running.keeper.cancel()
            if running.lost:
                log.warning("task %s was lost while its handler ran; outcome dropped", task.id)
                return
            await self._report(transport, running, outcome)
        except Exception:  # a bug, not an outcome: the task comes back when its lock ends
            log.exception("task %s (%s): unexpected error", task.id, spec.topic)
        finally:
            self._running.pop(task.id, None)
            assert self._capacity is not None
            self._capacity.set()

    async def _invoke(self, spec: TaskSpec, task: ExternalTask) -> Outcome:
        try:
            kwargs = spec.signature.arguments(task)
            if spec.signature.is_async:
                result = await spec.function(**kwargs)
            else:
                loop = asyncio.get_running_loop()
                executor = self._processes_for() if spec.isolated else self._threads
                result = await loop.run_in_executor(executor, _call, spec.function, kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return outcome_of_error(exc)
        return outcome_of_result(result)

    def _processes_for(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._process_pool is None:
            # forkserver: children do not inherit this process's threads and event loop
            self._process_pool = concurrent.futures.ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("forkserver")
            )
        return self._process_pool

    def _start_keepers(self, transport: Transport, batch: _Batch) -> None:
        for running in batch.members:
            if running.handling:
                running.keeper = asyncio.create_task(self._keep_locked(transport, running))

    async def _keep_locked(self, transport: Transport, running: _Running) -> None:
        """Extend the lock (we are at half its duration) and again at every half duration for
        as long as the handler runs."""
        duration = running.spec.subscription.lock_duration
        while True:
            try:
                await transport.extend_lock(running.task, duration)
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
            await asyncio.sleep(
                max(duration / 2000, running.deadline - time.monotonic() - duration / 2000)
            )

    async def _report(self, transport: Transport, running: _Running, outcome: Outcome) -> None:
        """Send the outcome, retrying while the gateway or Redis is away and the lock lasts."""
        task = running.task
        attempt = 0
        while True:
            try:
                await self._send(transport, running, outcome)
                return
            except TaskLost as exc:
                log.warning("task %s is no longer ours (%s); outcome dropped", task.id, exc)
                return
            except Rejected as exc:
                if isinstance(outcome, Failed):
                    log.error("failure report for task %s refused: %s", task.id, exc)
                    return
                # e.g. a variable the server cannot store: report that instead of hanging
                outcome = Failed(f"could not report the result: {exc}", None)
                continue
            except Unavailable as exc:
                if time.monotonic() >= running.deadline:
                    log.error("giving up reporting task %s (lock over): %s", task.id, exc)
                    return
                delay = self.reconnect.delay_ms(attempt) / 1000
                attempt += 1
                log.warning("reporting task %s failed (%s); retrying in %.2fs", task.id, exc, delay)
                await asyncio.sleep(delay)

    async def _send(self, transport: Transport, running: _Running, outcome: Outcome) -> None:
        task, spec = running.task, running.spec
        if isinstance(outcome, Complete):
            try:
                variables = to_typed_map(outcome.variables)
                local = to_typed_map(outcome.local_variables)
            except TypeError as exc:
                raise Rejected(str(exc)) from exc
            await transport.complete(task, variables, local)
            log.debug("completed task %s (%s)", task.id, spec.topic)
        elif isinstance(outcome, BpmnError):
            try:
                variables = to_typed_map(outcome.variables)
            except TypeError as exc:
                raise Rejected(str(exc)) from exc
            await transport.bpmn_error(task, outcome.code, outcome.message, variables)
            log.info("task %s (%s): BPMN error %s", task.id, spec.topic, outcome.code)
        else:
            retries = (
                spec.retry.next_retries(task.retries)
                if outcome.retries is None
                else outcome.retries
            )
            timeout = (
                spec.retry.timeout_ms(retries)
                if outcome.retry_timeout_ms is None
                else outcome.retry_timeout_ms
            )
            await transport.failure(task, outcome.message, outcome.details, retries, timeout)
            log.warning(
                "task %s (%s) failed: %s; retries left %d, next try in %d ms",
                task.id,
                spec.topic,
                outcome.message,
                retries,
                timeout,
            )
