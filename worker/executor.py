"""The executor: runs a task's handler (async on the loop, sync in threads, isolated in
processes) and hands its outcome to the reporter."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import time
from collections.abc import Callable
from typing import Any

from redtask.worker.handler import Outcome, outcome_of_error, outcome_of_result
from redtask.worker.inflight import Running
from redtask.worker.metrics import WorkerMetrics
from redtask.worker.reporter import Reporter
from redtask.worker.router import TaskSpec
from redtask.worker.task import ExternalTask

log = logging.getLogger("redtask.worker")


def _call(function: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    return function(**kwargs)


class Executor:
    """Runs the jobs of ``running`` (the worker's in-flight tasks by id): each job removes its
    task when it ends (its outcome reported) and releases its place in its lane. Sync handlers
    share a pool of ``concurrency`` threads; isolated ones a pool of ``processes`` processes,
    started on first use."""

    def __init__(
        self,
        reporter: Reporter,
        running: dict[str, Running],
        *,
        concurrency: int,
        processes: int | None,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.metrics = metrics or WorkerMetrics()
        self.reporter = reporter
        self.running = running
        self.processes = processes
        self._threads = concurrent.futures.ThreadPoolExecutor(
            concurrency, thread_name_prefix="redtask-handler"
        )
        self._process_pool: concurrent.futures.ProcessPoolExecutor | None = None

    def start(self, running: Running) -> None:
        running.job = asyncio.create_task(self._execute(running))

    def shutdown(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        if self._process_pool is not None:
            # handlers still running past the grace period are stopped with their processes
            for process in list(getattr(self._process_pool, "_processes", {}).values()):
                process.terminate()
            self._process_pool.shutdown(wait=False, cancel_futures=True)

    async def _execute(self, running: Running) -> None:
        task, spec = running.task, running.spec
        handed = False  # to the reporter, which then calls _finish itself
        try:
            started = time.perf_counter()
            try:
                outcome = await self._invoke(spec, task)
            finally:
                self.metrics.of(self.metrics.handler_duration, spec.topic).observe(
                    time.perf_counter() - started
                )
                running.handling = False
                running.batch.handler_returned()
                if running.keeper is not None:
                    running.keeper.cancel()
            if running.lost:
                log.warning("task %s was lost while its handler ran; outcome dropped", task.id)
                return
            handed = self.reporter.report_soon(running, outcome, self._finish)
            if not handed:
                await self.reporter.report(running, outcome)
        except Exception:  # a bug, not an outcome: the task comes back when its lock ends
            log.exception("task %s (%s): unexpected error", task.id, spec.topic)
        finally:
            if not handed:
                self._finish(running)

    def _finish(self, running: Running) -> None:
        """The job has ended, its outcome reported (or given up): free its place."""
        self.running.pop(running.task.id, None)
        if running.lane is not None:
            running.lane.released()

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
