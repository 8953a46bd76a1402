"""Running a ``Worker``'s (or ``Router``'s) handlers in-process against a test broker, one task
at a time, with the SDK's own parts: the direct-Redis transport (lock tokens, variable
conversion), the handler call (arguments injected by name, results and exceptions read as
outcomes) and the reporter (retry policy and back-off, a result the broker refuses reported as a
failure).

What differs from ``Worker.run``: tasks run one after the other, in fetch order (priority, then
creation time), never concurrently; a fetch never waits (no long poll); sync and ``isolated``
handlers run in a thread (nothing is pickled); no lock is extended, since the test clock does
not move while a handler runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from redtask.worker.backoff import Backoff
from redtask.worker.handler import Outcome, outcome_of_error, outcome_of_result
from redtask.worker.inflight import Batch, Running
from redtask.worker.reporter import Reporter
from redtask.worker.router import Router, TaskSpec
from redtask.worker.task import ExternalTask
from redtask.worker.transport.base import Subscription
from redtask.worker.transport.redis import RedisTransport
from redtask.worker.values import TypedValue, from_typed_map

if TYPE_CHECKING:
    from redtask.testing.broker import TestBroker

OutcomeName = Literal["completed", "failed", "bpmn_error", "lost"]


@dataclass(frozen=True, slots=True)
class Handled:
    """What the worker reported for one task: ``completed`` (with ``variables`` and
    ``local_variables``), ``failed`` (``error_message``, ``error_details``, the ``retries`` it
    left and the ``retry_timeout_ms`` it asked for: 0 retries raised an incident),
    ``bpmn_error`` (``error_code``, ``error_message``, ``variables``), or ``lost`` (the lock
    was no longer the worker's: nothing was reported). Variables are typed values as sent."""

    task: ExternalTask
    outcome: OutcomeName
    variables: Mapping[str, TypedValue] = field(default_factory=dict)
    local_variables: Mapping[str, TypedValue] = field(default_factory=dict)
    error_code: str | None = None
    error_message: str | None = None
    error_details: str | None = None
    retries: int | None = None
    retry_timeout_ms: int | None = None

    @property
    def topic(self) -> str:
        return self.task.topic_name

    @property
    def task_id(self) -> str:
        return self.task.id

    @property
    def activity_id(self) -> str | None:
        return self.task.activity_id

    @property
    def process_instance_id(self) -> str | None:
        return self.task.process_instance_id

    @property
    def values(self) -> dict[str, Any]:
        """The process variables sent, as Python values."""
        return from_typed_map(self.variables)

    def __str__(self) -> str:
        where = f" at {self.activity_id!r}" if self.activity_id else ""
        text = f"{self.topic}{where} (task {self.task_id}): {self.outcome}"
        if self.outcome == "failed":
            text += f" {self.error_message!r}, {self.retries} retries left"
        elif self.outcome == "bpmn_error":
            text += f" {self.error_code}"
        return text


class _Recorder:
    """The SDK's Redis transport, remembering what it reported for each task."""

    def __init__(self, inner: RedisTransport) -> None:
        self.inner = inner
        self.reports: dict[str, Handled] = {}

    async def fetch_and_lock(
        self,
        worker_id: str,
        max_tasks: int,
        subscriptions: Sequence[Subscription],
        *,
        use_priority: bool,
        wait_ms: int,
    ) -> list[ExternalTask]:
        return await self.inner.fetch_and_lock(
            worker_id, max_tasks, subscriptions, use_priority=use_priority, wait_ms=wait_ms
        )

    async def complete(
        self,
        task: ExternalTask,
        variables: Mapping[str, TypedValue],
        local_variables: Mapping[str, TypedValue],
    ) -> None:
        await self.inner.complete(task, variables, local_variables)
        self.reports[task.id] = Handled(task, "completed", dict(variables), dict(local_variables))

    async def failure(
        self,
        task: ExternalTask,
        error_message: str,
        error_details: str | None,
        retries: int,
        retry_timeout: int,
    ) -> None:
        await self.inner.failure(task, error_message, error_details, retries, retry_timeout)
        self.reports[task.id] = Handled(
            task,
            "failed",
            error_message=error_message,
            error_details=error_details,
            retries=retries,
            retry_timeout_ms=retry_timeout,
        )

    async def bpmn_error(
        self,
        task: ExternalTask,
        error_code: str,
        error_message: str | None,
        variables: Mapping[str, TypedValue],
    ) -> None:
        await self.inner.bpmn_error(task, error_code, error_message, variables)
        self.reports[task.id] = Handled(
            task, "bpmn_error", dict(variables), error_code=error_code, error_message=error_message
        )

    async def extend_lock(self, task: ExternalTask, new_duration: int) -> None:
        await self.inner.extend_lock(task, new_duration)

    async def unlock(self, task: ExternalTask) -> None:
        await self.inner.unlock(task)

    async def aclose(self) -> None:
        await self.inner.aclose()


class TestWorker:
    """Runs the handlers of ``handlers`` (a ``Worker`` or a ``Router``) against a test broker:
    :meth:`step` handles the next task, :meth:`run_until_idle` every task there is to fetch.
    Each returns what was reported (:class:`Handled`); ``handled`` lists everything so far.

    It fetches only: a failed task waiting out its retry back-off, or a timer, waits until the
    test moves the clock (``broker.advance``).
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        broker: TestBroker,
        handlers: Router,
        *,
        worker_id: str = "redtask-test-worker",
        use_priority: bool = True,
    ) -> None:
        if not handlers.specs:
            raise ValueError("no task handlers to run; register some with @worker.task")
        self.broker = broker
        self.handlers = handlers
        self.worker_id = worker_id
        self.use_priority = use_priority
        self.handled: list[Handled] = []
        self._transport = _Recorder(RedisTransport(broker.settings, store=broker.store))
        self._reporter = Reporter(self._transport, Backoff(initial_ms=10, max_ms=100, jitter=0))

    def _specs(self, topic: str | None) -> list[TaskSpec]:
        if topic is None:
            return list(self.handlers.specs.values())
        if topic not in self.handlers.specs:
            raise ValueError(
                f"no handler for topic {topic!r}; handlers: {sorted(self.handlers.specs)}"
            )
        return [self.handlers.specs[topic]]

    async def step(self, topic: str | None = None, *, max_tasks: int = 1) -> list[Handled]:
        """Fetch up to ``max_tasks`` tasks (of ``topic``, or of every topic with a handler),
        run their handlers one after the other and report each outcome; returns them (an
        empty list when there was nothing to fetch)."""
        subscriptions = [spec.subscription for spec in self._specs(topic)]
        tasks = await self._transport.fetch_and_lock(
            self.worker_id, max_tasks, subscriptions, use_priority=self.use_priority, wait_ms=0
        )
        done = [await self._handle(task) for task in tasks]
        self.handled += done
        return done

    async def run_until_idle(
        self, topic: str | None = None, *, max_tasks: int = 1_000
    ) -> list[Handled]:
        """Handle tasks one at a time until none can be fetched; returns what was reported.
        Raises RuntimeError when there are still tasks after ``max_tasks`` (a process that
        loops without a wait)."""
        done: list[Handled] = []
        for _ in range(max_tasks + 1):
            handled = await self.step(topic)
            if not handled:
                return done
            done += handled
        raise RuntimeError(
            f"still fetching tasks after {max_tasks} (last: {done[-1]}); a process loop? "
            "Pass a larger max_tasks if the work is really that large"
        )

    async def _handle(self, task: ExternalTask) -> Handled:
        spec = self.handlers.specs[task.topic_name]
        outcome = await self._invoke(spec, task)
        deadline = time.monotonic() + spec.subscription.lock_duration / 1000
        await self._reporter.report(Running(task, spec, deadline, Batch()), outcome)
        return self._transport.reports.pop(task.id, None) or Handled(task, "lost")

    @staticmethod
    async def _invoke(spec: TaskSpec, task: ExternalTask) -> Outcome:
        try:
            kwargs = spec.signature.arguments(task)
            if spec.signature.is_async:
                result = await spec.function(**kwargs)
            else:
                result = await asyncio.to_thread(spec.function, **kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return outcome_of_error(exc)
        return outcome_of_result(result)

    async def aclose(self) -> None:
        await self._transport.aclose()
