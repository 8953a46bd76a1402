"""The reporter: sends a task's outcome (complete, failure, BPMN error) or unlocks it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial

from redtask.worker.backoff import Backoff
from redtask.worker.errors import Rejected, TaskLost, Unavailable
from redtask.worker.handler import Failed, Outcome
from redtask.worker.inflight import Running
from redtask.worker.metrics import WorkerMetrics
from redtask.worker.task import BpmnError, Complete, ExternalTask
from redtask.worker.transport.base import Transport
from redtask.worker.values import to_typed_map

log = logging.getLogger("redtask.worker")


def ids(task: ExternalTask) -> dict[str, str | None]:
    """The ``extra`` of a log line about ``task`` (see :mod:`redtask.logs`)."""
    return {
        "task_id": task.id,
        "topic": task.topic_name,
        "worker_id": task.worker_id,
        "process_instance_id": task.process_instance_id,
    }


class Reporter:
    """Reports through ``transport``; ``reconnect`` paces retries while it is unreachable."""

    def __init__(
        self, transport: Transport, reconnect: Backoff, metrics: WorkerMetrics | None = None
    ) -> None:
        self.transport = transport
        self.reconnect = reconnect
        self.metrics = metrics or WorkerMetrics()

    async def report(
        self, running: Running, outcome: Outcome, met: Exception | None = None
    ) -> None:
        """Send the outcome, retrying while the gateway or Redis is away and the lock lasts;
        ``met``: what a first attempt has met already (see ``report_soon``)."""
        task = running.task
        attempt = 0
        while True:
            try:
                if met is not None:
                    error, met = met, None
                    raise error
                await self._send(running, outcome)
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

    def report_soon(
        self, running: Running, outcome: Outcome, finish: Callable[[Running], None]
    ) -> bool:
        """Hand a completion to a transport that group-commits it (``complete_soon``: the
        direct-Redis lanes) and return without waiting for the commit: ``running.job`` becomes
        the commit's future, and ``finish(running)`` is called once the report has ended (sent,
        refused or given up, as ``report`` would). False, nothing started, for other outcomes,
        for other transports and while not connected: then await ``report``."""
        if not isinstance(outcome, Complete):
            return False
        transport = self.transport if running.lane is None else running.lane.transport
        soon = getattr(transport, "complete_soon", None)
        if soon is None:
            return False
        try:
            variables = to_typed_map(outcome.variables)
            local = to_typed_map(outcome.local_variables)
        except TypeError:
            return False  # report() reports it as a failure
        pending = soon(running.task, variables, local)
        if pending is None:
            return False
        running.job = pending
        pending.add_done_callback(partial(self._settled, running, outcome, finish))
        return True

    def _settled(
        self,
        running: Running,
        outcome: Outcome,
        finish: Callable[[Running], None],
        pending: asyncio.Future[Exception | None],
    ) -> None:
        if pending.cancelled():  # the lane closed, or the worker gave up the task
            finish(running)
            return
        error = pending.result()
        if error is None:
            self._completed(running)
        elif isinstance(error, TaskLost | Rejected | Unavailable):
            # as report() handles them: dropped, reported as a failure, or sent again later
            running.job = asyncio.get_running_loop().create_task(
                self._report_then(running, outcome, error, finish)
            )
            return
        else:  # a bug, not an outcome: the task comes back when its lock ends
            task, topic = running.task, running.spec.topic
            log.error("task %s (%s): unexpected error", task.id, topic, exc_info=error)
        finish(running)

    async def _report_then(
        self,
        running: Running,
        outcome: Outcome,
        met: Exception,
        finish: Callable[[Running], None],
    ) -> None:
        try:
            await self.report(running, outcome, met)
        except Exception:  # a bug: the task comes back when its lock ends
            log.exception("task %s: reporting failed", running.task.id)
        finally:
            finish(running)

    def _completed(self, running: Running) -> None:
        task, topic = running.task, running.spec.topic
        self.metrics.of(self.metrics.completed, topic).inc()
        if log.isEnabledFor(logging.INFO):  # ids() costs, logged or not
            log.info("task %s (%s) completed", task.id, topic, extra=ids(task))

    async def _send(self, running: Running, outcome: Outcome) -> None:
        task, spec = running.task, running.spec
        # a lane's transport: the completions of its tasks go in its batches
        transport = self.transport if running.lane is None else running.lane.transport
        if isinstance(outcome, Complete):
            try:
                variables = to_typed_map(outcome.variables)
                local = to_typed_map(outcome.local_variables)
            except TypeError as exc:
                raise Rejected(str(exc)) from exc
            await transport.complete(task, variables, local)
            self._completed(running)
        elif isinstance(outcome, BpmnError):
            try:
                variables = to_typed_map(outcome.variables)
            except TypeError as exc:
                raise Rejected(str(exc)) from exc
            await transport.bpmn_error(task, outcome.code, outcome.message, variables)
            self.metrics.of(self.metrics.bpmn_errors, spec.topic).inc()
            log.info(
                "task %s (%s): BPMN error %s", task.id, spec.topic, outcome.code, extra=ids(task)
            )
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
            self.metrics.of(self.metrics.failed, spec.topic).inc()
            if retries > 0:
                log.warning(
                    "task %s (%s) failed: %s; retries left %d, next try in %d ms",
                    *(task.id, spec.topic, outcome.message, retries, timeout),
                    extra=ids(task),
                )
            else:
                log.warning(
                    "task %s (%s) failed: %s; no retries left, an incident is raised",
                    *(task.id, spec.topic, outcome.message),
                    extra=ids(task),
                )

    async def give_back(self, task: ExternalTask) -> None:
        """Unlock a task we cannot run, so that it is fetched again at once (by us or another
        worker). Not a failure report: the fault is ours, and should not cost the task a retry
        or raise an incident."""
        try:
            await self.transport.unlock(task)
            log.warning(
                "unlocked task %s (%s), which could not be dispatched", task.id, task.topic_name
            )
        except (Unavailable, TaskLost, Rejected) as exc:
            log.warning(
                "could not unlock task %s (%s); it comes back when its lock ends", task.id, exc
            )

    async def unlock_unfinished(self, running: Running) -> None:
        """Unlock a task whose handler outlived the shutdown grace period."""
        try:
            await self.transport.unlock(running.task)
            log.info(
                "unlocked task %s (%s) after the grace period", running.task.id, running.spec.topic
            )
        except (Unavailable, TaskLost, Rejected) as exc:
            log.warning("could not unlock task %s: %s", running.task.id, exc)
