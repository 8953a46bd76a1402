"""The RQ bridge: a :class:`Worker` whose one handler hands each task of a topic to an RQ fleet.

For every locked task it enqueues an RQ job with the task's id as job id, calling ``func`` (a
dotted path, so the bridge never imports user code) with the task's variables as keyword
arguments, then waits for the job while the SDK extends the task's lock. The job's outcome
becomes the task's:

* finished: its return value completes the task. A dict completes with those variables (a
  :class:`Complete` as well, for local variables), None with no variables, any other value
  with ``{"result": value}``.
* failed: a failure whose message is the exception line of the job's traceback and whose
  details are the traceback; the bridge's retry policy sets retries and backoff.
* stopped, canceled, deleted, or abandoned (its RQ worker died; RQ's StartedJobRegistry cleanup,
  which the bridge also runs, marks such jobs failed): a failure ``"RQ job lost"``.

A task delivered again (the bridge restarted, or its lock was lost) attaches to its job if that
job is still waiting or running; a job left finished or failed by an earlier delivery is
replaced by a fresh one, so every delivery runs the function at least once more.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.results import Result
from rq.serializers import resolve_serializer

from redtask.worker.backoff import Backoff
from redtask.worker.runtime import Worker
from redtask.worker.task import Complete, ExternalTask, TaskFailure
from redtask.worker.transport.base import Transport

log = logging.getLogger("redtask.rq_bridge")

LOST = "RQ job lost"
_FINISHED, _FAILED = JobStatus.FINISHED.value, JobStatus.FAILED.value
# any other status (queued, started, deferred, scheduled, and whatever later RQs add) is waited on
_DONE = frozenset({_FINISHED, _FAILED, JobStatus.STOPPED.value, JobStatus.CANCELED.value})
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")
_REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class JobOptions:
    """How jobs are enqueued: ``timeout`` (s, -1 for none) bounds one run in the RQ worker;
    ``result_ttl`` / ``failure_ttl`` (s) keep finished / failed jobs visible to RQ's tooling
    (the bridge reads a result within one poll interval)."""

    timeout: int = 180
    result_ttl: int = 500
    failure_ttl: int = 86_400

    def __post_init__(self) -> None:
        if self.timeout == 0 or self.timeout < -1:
            raise ValueError("the job timeout must be a positive number of seconds, or -1")
        if self.result_ttl < 1 or self.failure_ttl < 1:
            raise ValueError("result_ttl and failure_ttl must be at least 1 second")


class RqBridge:
    """The handler: enqueue (or attach to) a task's RQ job and wait for its outcome.

    All awaited jobs are polled together, one pipelined read every ``poll_interval`` seconds;
    every ``cleanup_interval`` seconds abandoned jobs of the queue are marked failed.
    """

    def __init__(
        self,
        queue: Queue,
        func: str,
        *,
        options: JobOptions | None = None,
        poll_interval: float = 0.2,
        cleanup_interval: float = 60.0,
        reconnect: Backoff | None = None,
    ) -> None:
        if not _DOTTED.fullmatch(func):
            raise ValueError(f"{func!r} is not a dotted path to a function, e.g. app.jobs.charge")
        if poll_interval <= 0 or cleanup_interval <= 0:
            raise ValueError("poll and cleanup intervals must be positive")
        self.queue = queue
        self.func = func
        self.options = options or JobOptions()
        self.poll_interval = poll_interval
        self.cleanup_interval = cleanup_interval
        self.reconnect = reconnect or Backoff(initial_ms=200, max_ms=10_000, jitter=0.2)
        self._waiters: dict[str, asyncio.Future[str | None]] = {}
        self._poller: asyncio.Task[None] | None = None
        self._next_cleanup = time.monotonic() + cleanup_interval

    async def handle(self, task: ExternalTask) -> Any:
        """Run ``task`` as an RQ job. Raises TaskFailure when the job fails or is lost."""
        attached = await self._retrying(self._submit, task)
        if attached:
            log.info("task %s: attached to its RQ job on queue %s", task.id, self.queue.name)
        else:
            log.debug("task %s: enqueued an RQ job on queue %s", task.id, self.queue.name)
        status = await self._wait(task.id)
        return await self._retrying(self._outcome, task.id, status)

    # ------------------------------------------------------------------ RQ calls (in threads)

    def _submit(self, task: ExternalTask) -> bool:
        """Enqueue the task's job; True if a waiting or running job was there already."""
        try:
            existing = Job.fetch(task.id, self.queue.connection, self.queue.serializer)
        except NoSuchJobError:
            existing = None
        if existing is not None:
            status = existing.get_status(refresh=False)
            if status is None or status.value not in _DONE:
                return True
            existing.delete()  # left by an earlier delivery: this one runs afresh
        self.queue.enqueue_call(
            self.func,
            kwargs=task.variables,
            job_id=task.id,
            timeout=self.options.timeout,
            result_ttl=self.options.result_ttl,
            failure_ttl=self.options.failure_ttl,
            description=f"{self.func} for redtask task {task.id} ({task.topic_name})",
            meta={
                "redtask_topic": task.topic_name,
                "redtask_process_instance_id": task.process_instance_id,
                "redtask_activity_id": task.activity_id,
            },
        )
        return False

    def _statuses(self, job_ids: Sequence[str]) -> list[str | None]:
        with self.queue.connection.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hget(Job.key_for(job_id), "status")
            raw = pipe.execute()
        return [None if value is None else value.decode() for value in raw]

    def _cleanup(self) -> None:
        """RQ's own abandoned-job sweep, under the lock RQ workers take for it."""
        if self.queue.acquire_maintenance_lock():
            try:
                StartedJobRegistry(queue=self.queue).cleanup()
            finally:
                self.queue.release_maintenance_lock()  # type: ignore[no-untyped-call]

    def _outcome(self, job_id: str, status: str | None) -> Any:
        where = f"RQ job {job_id} on queue {self.queue.name}"
        if status is None:
            raise TaskFailure(LOST, f"{where} no longer exists")
        if status not in (_FINISHED, _FAILED):
            raise TaskFailure(LOST, f"{where} was {status}")
        try:
            job = Job.fetch(job_id, self.queue.connection, self.queue.serializer)
            result = job.latest_result()
        except NoSuchJobError:
            raise TaskFailure(LOST, f"{where} no longer exists") from None
        except _REDIS_DOWN:
            raise
        except Exception as exc:  # e.g. a return value whose class the bridge cannot import
            raise TaskFailure(f"cannot read the result of {where}: {exc!r}") from exc
        if status == _FINISHED:
            if result is None or result.type is not Result.Type.SUCCESSFUL:
                raise TaskFailure(LOST, f"{where} finished but its result is gone")
            return _variables_of(result.return_value)
        exc_string = (result.exc_string if result is not None else None) or ""
        if "AbandonedJobError" in exc_string:
            raise TaskFailure(LOST, f"{where} was abandoned by its RQ worker: {exc_string}")
        lines = [line for line in exc_string.splitlines() if line.strip()]
        raise TaskFailure(lines[-1] if lines else f"{where} failed", exc_string or None)

    # ------------------------------------------------------------------ waiting

    async def _wait(self, job_id: str) -> str | None:
        """The job's status once it is done (None: the job is gone)."""
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._waiters[job_id] = future
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll())
        try:
            return await future
        finally:
            self._waiters.pop(job_id, None)
            if not self._waiters and self._poller is not None:
                # cleared before it ends, so that the next wait starts a new poller at once
                poller, self._poller = self._poller, None
                poller.cancel()

    async def _poll(self) -> None:
        while self._waiters:
            await asyncio.sleep(self.poll_interval)
            job_ids = list(self._waiters)
            try:
                if time.monotonic() >= self._next_cleanup:
                    self._next_cleanup = time.monotonic() + self.cleanup_interval
                    await asyncio.to_thread(self._cleanup)
                statuses = await asyncio.to_thread(self._statuses, job_ids)
            except redis.RedisError as exc:
                log.warning("reading RQ job statuses failed (%s); retrying", exc)
                continue
            except Exception:  # waiters must not hang on a bug: log it and keep polling
                log.exception("reading RQ job statuses failed")
                continue
            for job_id, status in zip(job_ids, statuses, strict=True):
                future = self._waiters.get(job_id)
                if (status is None or status in _DONE) and future and not future.done():
                    future.set_result(status)

    async def _retrying(self, call: Callable[..., T], *args: Any) -> T:
        """``call(*args)`` in a thread, again after a backoff while RQ's Redis is unreachable
        (the task's lock is kept meanwhile)."""
        attempt = 0
        while True:
            try:
                return await asyncio.to_thread(call, *args)
            except _REDIS_DOWN as exc:
                delay = self.reconnect.delay_ms(attempt) / 1000
                attempt += 1
                log.warning("RQ's Redis is unreachable (%s); retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)


def _variables_of(value: Any) -> Mapping[str, Any] | Complete | None:
    if value is None or isinstance(value, Mapping | Complete):
        return value
    return {"result": value}


def rq_bridge(
    topic: str,
    func: str,
    *,
    queue: str,
    connection: redis.Redis,
    transport: Transport | None = None,
    serializer: str | None = None,
    options: JobOptions | None = None,
    poll_interval: float = 0.2,
    cleanup_interval: float = 60.0,
    variables: Sequence[str] | None = None,
    concurrency: int = 100,
    lock_duration: int = 30_000,
    retries: int = 3,
    backoff: Backoff | None = None,
    worker_id: str | None = None,
    poll_timeout: int = 20_000,
    grace: float = 5.0,
) -> Worker:
    """A Worker that serves ``topic`` by running ``func`` as RQ jobs on ``queue`` of
    ``connection`` (RQ's Redis, which may differ from redtask's). ``concurrency`` is the number
    of tasks outstanding in RQ at once; ``variables`` selects what is fetched and passed
    (default: all). Raises ValueError for a bad ``func``, queue name or option.
    """
    if not queue:
        raise ValueError("the RQ queue needs a name")
    bridge = RqBridge(
        Queue(queue, connection=connection, serializer=resolve_serializer(serializer)),
        func,
        options=options,
        poll_interval=poll_interval,
        cleanup_interval=cleanup_interval,
    )
    worker = Worker(
        transport,
        worker_id=worker_id,
        concurrency=concurrency,
        poll_timeout=poll_timeout,
        grace=grace,
        lock_duration=lock_duration,
        retries=retries,
        backoff=backoff,
    )
    worker.task(topic, variables=None if variables is None else tuple(variables))(bridge.handle)
    return worker
