"""A worker's lifecycle with real processes: long handlers keep their lock, a killed worker's
task comes back after its lease, SIGTERM drains (finish within the grace, unlock the rest)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from redtask.broker.model import NewTask, TaskState
from redtask.broker.store import Store
from redtask.worker import ExternalTask, Worker
from redtask.worker.transport.base import Transport
from tests.worker.helpers import (
    ROOT,
    appears,
    eventually,
    finished,
    running,
    sleep_for,
    worker_process,
)


async def test_a_long_handler_keeps_its_lock_and_is_never_delivered_twice(
    store: Store, topic: str, make_transport: Callable[[], Transport]
) -> None:
    task_id = await store.publish(NewTask(topic))
    slow = Worker(make_transport(), worker_id="slow", lock_duration=400, poll_timeout=500)
    other = Worker(make_transport(), worker_id="other", lock_duration=400, poll_timeout=200)
    calls: list[str] = []

    @slow.task(topic)
    async def long_work(task: ExternalTask) -> None:
        calls.append(task.worker_id)
        await asyncio.sleep(2.0)  # five lock durations

    @other.task(topic)
    async def competing(task: ExternalTask) -> None:
        calls.append(task.worker_id)

    async with running(slow):
        await eventually(lambda: asyncio.sleep(0, calls))
        async with running(other):
            await eventually(lambda: finished(store, task_id), timeout=10)

    assert calls == ["slow"]


async def test_a_killed_worker_s_task_is_delivered_to_another_worker_after_the_lease(
    store: Store,
    topic: str,
    transport_kind: str,
    api: str,
    env: dict[str, str],
    tmp_path: Path,
    make_transport: Callable[[], Transport],
) -> None:
    task_id = await store.publish(NewTask(topic, variables=sleep_for(60)))
    with worker_process(
        env, transport_kind, api, topic, tmp_path, worker_id="doomed", lock_ms=1500
    ) as proc:
        await appears(tmp_path / f"{task_id}.started")
        proc.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        proc.wait()

    survivor = Worker(make_transport(), worker_id="survivor", poll_timeout=500)
    delivered: list[tuple[float, str, int | None]] = []

    @survivor.task(topic)
    def take_over(task: ExternalTask) -> None:
        delivered.append((time.monotonic() - killed_at, task.id, task.lock_token))

    async with running(survivor):
        await eventually(lambda: finished(store, task_id), timeout=15)

    [(after, delivered_id, _)] = delivered
    assert delivered_id == task_id
    # not before the doomed worker's lease (extended at most to kill time + 1.5 s) ran out
    assert 0.5 < after < 6.0, after
    assert (tmp_path / f"{task_id}.started").read_text() == "doomed"


async def test_sigterm_finishes_in_flight_tasks_stops_fetching_and_exits_0(
    store: Store,
    topic: str,
    transport_kind: str,
    api: str,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    running_id = await store.publish(NewTask(topic, variables=sleep_for(1.5)))
    with worker_process(
        env, transport_kind, api, topic, tmp_path, worker_id="w1", grace=10
    ) as proc:
        await appears(tmp_path / f"{running_id}.started")
        proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.2)
        late_id = await store.publish(NewTask(topic))  # published while draining
        exit_code = await asyncio.to_thread(proc.wait, 15)

    assert exit_code == 0
    assert (tmp_path / f"{running_id}.done").exists()
    assert await finished(store, running_id)
    late = await store.get(late_id)
    assert (late.state, late.worker_id) == (TaskState.AVAILABLE, None)
    assert not (tmp_path / f"{late_id}.started").exists()


async def test_sigterm_unlocks_tasks_still_running_after_the_grace_period(
    store: Store,
    topic: str,
    transport_kind: str,
    api: str,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    task_id = await store.publish(NewTask(topic, variables=sleep_for(30)))
    with worker_process(
        env, transport_kind, api, topic, tmp_path, worker_id="w2", grace=0.5, extra=("--json-logs",)
    ) as proc:
        await appears(tmp_path / f"{task_id}.started")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(proc.wait, 15)
        stopped_after = time.monotonic() - started

    assert exit_code == 0
    assert stopped_after < 5, stopped_after
    task = await store.get(task_id)
    assert (task.state, task.worker_id, task.lock_expiration_time) == (
        TaskState.AVAILABLE,
        None,
        None,
    )
    assert not (tmp_path / f"{task_id}.done").exists()
    records = [json.loads(line) for line in (tmp_path / "worker.log").read_text().splitlines()]
    messages = [(r["level"], r["logger"], r["message"]) for r in records]
    assert ("INFO", "redtask.worker", "worker w2 stopped") in messages
    assert (
        "INFO",
        "redtask.worker",
        f"unlocked task {task_id} ({topic}) after the grace period",
    ) in messages


def test_a_target_that_is_not_a_worker_exits_2_with_a_readable_message(tmp_path: Path) -> None:
    for target, message in [
        ("tests.worker.nope:worker", "cannot import 'tests.worker.nope'"),
        ("tests.worker.apps:missing", "module 'tests.worker.apps' has no attribute 'missing'"),
        ("tests.worker.apps:TOPIC", "tests.worker.apps:TOPIC is a str, not a redtask Worker"),
    ]:
        result = subprocess.run(
            [sys.executable, "-m", "redtask", "worker", target],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("REDTASK_")},
            timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert message in result.stderr
