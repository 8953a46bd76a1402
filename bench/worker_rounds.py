"""One timed round of the worker benchmark: a ``Worker`` over a counting transport consumes a
pre-published topic; the round checks that every task completed and nothing else happened, and
reports tasks/s and CPU per task of this process, redis-server and the gateway."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from bench.common import chunks, process_cpu
from redtask.broker.model import NewTask
from redtask.broker.store import Store
from redtask.worker import Worker
from redtask.worker.task import ExternalTask
from redtask.worker.transport.base import Subscription, Transport
from redtask.worker.values import TypedValue

LOCK_MS = 30_000
PUBLISH_BATCH = 100


# ---------------------------------------------------------------------------------- counting
class Counted:
    """A transport that counts what the worker reports; ``done`` is set when ``target``
    completions have been acknowledged."""

    def __init__(self, inner: Transport, target: int) -> None:
        self.inner = inner
        self.target = target
        self.completed = 0
        self.other_outcomes = 0
        self.done = asyncio.Event()

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
        self.completed += 1
        if self.completed >= self.target:
            self.done.set()

    async def failure(
        self,
        task: ExternalTask,
        error_message: str,
        error_details: str | None,
        retries: int,
        retry_timeout: int,
    ) -> None:
        self.other_outcomes += 1
        await self.inner.failure(task, error_message, error_details, retries, retry_timeout)

    async def bpmn_error(
        self,
        task: ExternalTask,
        error_code: str,
        error_message: str | None,
        variables: Mapping[str, TypedValue],
    ) -> None:
        self.other_outcomes += 1
        await self.inner.bpmn_error(task, error_code, error_message, variables)

    async def extend_lock(self, task: ExternalTask, new_duration: int) -> None:
        await self.inner.extend_lock(task, new_duration)

    async def unlock(self, task: ExternalTask) -> None:
        await self.inner.unlock(task)

    async def aclose(self) -> None:
        await self.inner.aclose()


class WarningCounter(logging.Handler):
    """Counts WARNING and worse records of the worker SDK (a lost task, a retried report...)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.first: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("redtask.worker", "worker")):
            self.count += 1
            self.first = self.first or f"{record.name}: {record.getMessage()}"


# ---------------------------------------------------------------------------------- cpu
@dataclass
class Cpu:
    """CPU seconds of this process, redis-server and (if any) the gateway process."""

    redis: aioredis.Redis
    gateway_pid: int | None = None

    async def sample(self) -> dict[str, float]:
        out = {"bench": time.process_time()}
        info = await self.redis.info("cpu")
        out["redis"] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        if self.gateway_pid is not None:
            out["gateway"] = process_cpu(self.gateway_pid)
        return out


def per_task_us(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, float]:
    return {f"cpu_us_per_task_{k}": (after[k] - before[k]) * 1e6 / n for k in before}


# ---------------------------------------------------------------------------------- rounds
async def worker_round(
    store: Store,
    make_transport: Callable[[], Transport],
    cpu: Cpu,
    n: int,
    label: str,
    concurrency: int,
    warnings: WarningCounter,
    *,
    timed_publish: bool = False,
) -> dict[str, Any]:
    """(b) or (c): pre-publish n tasks, then time a Worker from start to the n-th completion;
    ``timed_publish`` starts the clock before the publish instead."""
    topic = f"{label}-{uuid.uuid4().hex[:8]}"
    gc.collect()
    before = await cpu.sample()
    t_publish = time.perf_counter()
    for part in chunks([NewTask(topic) for _ in range(n)], PUBLISH_BATCH):
        await store.publish_many(part)
    counted = Counted(make_transport(), n)
    worker = Worker(
        counted,
        worker_id=f"bench-{label}",
        concurrency=concurrency,
        poll_timeout=1_000,
        grace=5,
        lock_duration=LOCK_MS,
        retries=0,
    )
    handled = 0

    @worker.task(topic)
    async def noop() -> None:
        nonlocal handled
        handled += 1

    warned = warnings.count
    if not timed_publish:
        gc.collect()
        before = await cpu.sample()
    t0 = t_publish if timed_publish else time.perf_counter()
    run = asyncio.create_task(worker.run())
    done = asyncio.create_task(counted.done.wait())
    await asyncio.wait({run, done}, timeout=max(60.0, n / 50), return_when="FIRST_COMPLETED")
    elapsed = time.perf_counter() - t0
    after = await cpu.sample()
    finished = done.done()
    done.cancel()
    worker.stop()
    await asyncio.wait_for(run, 30)  # raises what the worker raised
    if not finished:
        raise RuntimeError(f"{label}: {counted.completed} of {n} tasks completed in time")
    left = [s for s in await store.topic_stats() if s.topic_name == topic]
    problems = []
    if left:
        problems.append(f"tasks left on the topic: {left}")
    if handled != n or counted.completed != n or counted.other_outcomes:
        problems.append(
            f"handled {handled}, completed {counted.completed}, "
            f"other outcomes {counted.other_outcomes} (expected {n} each, 0 others)"
        )
    if warnings.count != warned:
        problems.append(f"{warnings.count - warned} worker warnings, first: {warnings.first}")
    if problems:
        raise RuntimeError(f"{label}: " + "; ".join(problems))
    return {"tasks": n, "seconds": elapsed, "tasks_per_s": n / elapsed} | per_task_us(
        before, after, n
    )
