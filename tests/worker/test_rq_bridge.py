"""The RQ bridge against a real gateway, Redis and `rq worker` processes: tasks become RQ jobs
(job id = task id) that plain RQ workers run, and each job's fate becomes the task's outcome."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from redtask.broker.embedded import free_port
from redtask.broker.store import Store
from redtask.worker import Backoff, Worker
from redtask.worker.rq_bridge import LOST, rq_bridge
from redtask.worker.transport.base import Transport
from tests.worker.helpers import Engine, eventually, running

ROOT = Path(__file__).resolve().parents[2]
RQ = str(Path(sys.executable).parent / "rq")
JOBS = "tests.worker.rq_jobs"


@pytest.fixture(scope="module")
def rq_url(redis_url: str) -> str:
    """RQ's Redis: database 1 of the test server, apart from redtask's keys."""
    match = re.fullmatch(r"(redis://[^/?]+)(/\d+)?", redis_url)
    return f"{match.group(1)}/1" if match else redis_url


@pytest.fixture
def rq_redis(rq_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(rq_url)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def queue(rq_redis: redis.Redis) -> Iterator[str]:
    """A fresh RQ queue; its queue, registry and run-count keys go at the end (job hashes
    expire on their own)."""
    name = f"q-{uuid.uuid4().hex[:10]}"
    yield name
    keys = list(rq_redis.scan_iter(match=f"*{name}*", count=1000))
    if keys:
        rq_redis.delete(*keys)


@pytest.fixture
async def engine(api: str) -> AsyncIterator[Engine]:
    engine = Engine(api)
    yield engine
    await engine.aclose()


@contextmanager
def rq_worker(
    url: str, queue: str, worker_class: str = "rq.worker.Worker"
) -> Iterator[subprocess.Popen[bytes]]:
    """A plain `rq worker` on ``queue`` that can import the test jobs; stopped (or killed)
    at the end of the block."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [RQ, "worker", "--url", url, "--worker-class", worker_class, "--quiet", queue]
    process = subprocess.Popen(args, cwd=ROOT, env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(3)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def runs(rq_redis: redis.Redis, queue: str) -> list[float]:
    """When each run of a job on ``queue`` started (see rq_jobs.py)."""
    return [float(t) for t in rq_redis.lrange(f"runs:{queue}", 0, -1)]


def bridge(
    make_transport: Callable[[], Transport],
    rq_redis: redis.Redis,
    topic: str,
    func: str,
    queue: str,
    **options: Any,
) -> Worker:
    options.setdefault("poll_interval", 0.05)
    options.setdefault("grace", 2.0)
    return rq_bridge(
        topic,
        f"{JOBS}.{func}",
        queue=queue,
        connection=rq_redis,
        transport=make_transport(),
        poll_timeout=1_000,
        **options,
    )


async def test_an_rq_worker_does_the_task_and_the_instance_moves_on_with_the_return_value(
    engine: Engine,
    topic: str,
    queue: str,
    rq_url: str,
    rq_redis: redis.Redis,
    make_transport: Callable[[], Transport],
) -> None:
    key = await engine.deploy_process(topic)
    instance = await engine.start(key, {"amount": {"value": 21, "type": "Integer"}})
    task_id = (await engine.task_of(instance, "work"))["id"]
    worker = bridge(make_transport, rq_redis, topic, "double", queue)

    with rq_worker(rq_url, queue):
        async with running(worker):
            await engine.reaches(instance, ["next"], timeout=20)

    variables = await engine.variables(instance)
    assert variables["doubled"] == {"type": "Integer", "value": 42, "valueInfo": {}}
    assert variables["note"] == {"type": "String", "value": "by rq", "valueInfo": {}}
    job = Job.fetch(task_id, connection=rq_redis)
    assert (job.func_name, job.kwargs, job.origin) == (f"{JOBS}.double", {"amount": 21}, queue)
    assert job.get_status() == JobStatus.FINISHED
    assert len(runs(rq_redis, queue)) == 1


@pytest.mark.parametrize("transport_kind", ["redis"])
async def test_a_failing_job_is_retried_after_the_backoff_then_raises_an_incident(
    engine: Engine,
    topic: str,
    queue: str,
    rq_url: str,
    rq_redis: redis.Redis,
    make_transport: Callable[[], Transport],
) -> None:
    key = await engine.deploy_process(topic)
    instance = await engine.start(key)
    worker = bridge(
        make_transport,
        rq_redis,
        topic,
        "card_expired",
        queue,
        retries=1,
        backoff=Backoff(initial_ms=500, jitter=0),
    )

    with rq_worker(rq_url, queue):
        async with running(worker):
            [incident] = await eventually(lambda: engine.incidents(instance), timeout=20)

    # the retry ran a fresh job in place of the failed one, after the 500 ms backoff
    started = runs(rq_redis, queue)
    assert len(started) == 2
    assert started[1] - started[0] >= 0.5
    assert incident["incidentMessage"] == "ValueError: card expired"
    task = await engine.task_of(instance, "work")
    assert (task["retries"], task["errorMessage"]) == (0, "ValueError: card expired")
    details = await engine.http.get(f"/external-task/{task['id']}/errorDetails")
    assert details.text.startswith("Traceback (most recent call last)")
    assert 'raise ValueError("card expired")' in details.text


@pytest.mark.parametrize("transport_kind", ["rest"])
async def test_a_job_longer_than_the_lock_keeps_the_task_locked_and_completes_once(
    engine: Engine,
    topic: str,
    queue: str,
    rq_url: str,
    rq_redis: redis.Redis,
    make_transport: Callable[[], Transport],
) -> None:
    key = await engine.deploy_process(topic)
    instance = await engine.start(key, {"seconds": {"value": 2.5, "type": "Double"}})
    worker = bridge(
        make_transport, rq_redis, topic, "slow", queue, lock_duration=1_000, worker_id="bridge"
    )
    rival = Worker(make_transport(), worker_id="rival", poll_timeout=500)
    stolen: list[str] = []

    @rival.task(topic, lock_duration=1_000)
    def steal(seconds: float) -> None:
        stolen.append("a re-delivered task")

    async def locked_by_the_bridge() -> bool:
        return (await engine.task_of(instance, "work"))["workerId"] == "bridge"

    with rq_worker(rq_url, queue):
        async with running(worker):
            await eventually(locked_by_the_bridge)
            async with running(rival):  # would get the task if its lock ran out
                await engine.reaches(instance, ["next"], timeout=20)

    assert stolen == []
    assert len(runs(rq_redis, queue)) == 1
    assert (await engine.variables(instance))["slept"]["value"] == 2.5


async def test_a_task_stays_locked_while_its_job_waits_in_the_queue_and_completes_once(
    engine: Engine,
    store: Store,
    topic: str,
    queue: str,
    rq_url: str,
    rq_redis: redis.Redis,
    make_transport: Callable[[], Transport],
) -> None:
    key = await engine.deploy_process(topic)
    instance = await engine.start(key, {"amount": {"value": 5, "type": "Integer"}})
    task_id = (await engine.task_of(instance, "work"))["id"]
    worker = bridge(
        make_transport, rq_redis, topic, "double", queue, lock_duration=1_000, worker_id="bridge"
    )
    rival = Worker(make_transport(), worker_id="rival", poll_timeout=500)
    stolen: list[str] = []

    @rival.task(topic, lock_duration=1_000)
    def steal(amount: int) -> None:
        stolen.append("a re-delivered task")

    async with running(worker):
        await eventually(lambda: asyncio.to_thread(Job.exists, task_id, rq_redis))
        enqueued = await store.get(task_id)
        async with running(rival):  # would get the task if its lock ran out
            await asyncio.sleep(3.0)  # three lock durations, and no rq worker yet
            waited = await store.get(task_id)
            status = Job.fetch(task_id, connection=rq_redis).get_status()
            with rq_worker(rq_url, queue):
                await engine.reaches(instance, ["next"], timeout=20)

    assert status == JobStatus.QUEUED
    assert (enqueued.worker_id, waited.worker_id) == ("bridge", "bridge")
    assert waited.lock_token == enqueued.lock_token  # never locked again in between
    assert enqueued.lock_expiration_time is not None and waited.lock_expiration_time is not None
    assert waited.lock_expiration_time >= enqueued.lock_expiration_time + 2_000  # extended
    assert stolen == []
    assert len(runs(rq_redis, queue)) == 1
    assert (await engine.variables(instance))["doubled"]["value"] == 10


@pytest.mark.parametrize("transport_kind", ["redis"])
async def test_a_restarted_bridge_attaches_to_the_running_job_instead_of_running_it_again(
    engine: Engine,
    topic: str,
    queue: str,
    rq_url: str,
    rq_redis: redis.Redis,
    make_transport: Callable[[], Transport],
) -> None:
    key = await engine.deploy_process(topic)
    instance = await engine.start(key, {"seconds": {"value": 2.0, "type": "Double"}})
    first = bridge(make_transport, rq_redis, topic, "slow", queue, grace=0.1, worker_id="first")
    second = bridge(make_transport, rq_redis, topic, "slow", queue, worker_id="second")

    with rq_worker(rq_url, queue):
        async with running(first):
            await eventually(lambda: asyncio.to_thread(runs, rq_redis, queue), timeout=15)
        # the first bridge unlocked the task after its grace period; the job runs on
        task = await engine.task_of(instance, "work")
        assert task["workerId"] is None
        async with running(second):
            await engine.reaches(instance, ["next"], timeout=15)

    assert len(runs(rq_redis, queue)) == 1
    assert (await engine.variables(instance))["slept"]["value"] == 2.0


async def test_a_job_deleted_from_rq_is_reported_lost(
    engine: Engine,
    topic: str,
    queue: str,
    rq_redis: redis.Redis,
    make_transport: Callable[[], Transport],
) -> None:
    key = await engine.deploy_process(topic)
    instance = await engine.start(key, {"amount": {"value": 1, "type": "Integer"}})
    task_id = (await engine.task_of(instance, "work"))["id"]
    worker = bridge(make_transport, rq_redis, topic, "double", queue, retries=0)

    async with running(worker):  # no rq worker: the job waits in its queue
        await eventually(lambda: asyncio.to_thread(Job.exists, task_id, rq_redis))
        Job.fetch(task_id, connection=rq_redis).delete()
        [incident] = await eventually(lambda: engine.incidents(instance))

    assert incident["incidentMessage"] == LOST
    details = await engine.http.get(f"/external-task/{task_id}/errorDetails")
    assert details.text == f"RQ job {task_id} on queue {queue} no longer exists"


@pytest.mark.parametrize("transport_kind", ["rest"])
async def test_a_job_abandoned_by_a_killed_rq_worker_is_reported_lost(
    engine: Engine,
    topic: str,
    queue: str,
    rq_url: str,
    rq_redis: redis.Redis,
    make_transport: Callable[[], Transport],
) -> None:
    key = await engine.deploy_process(topic)
    instance = await engine.start(key, {"seconds": {"value": 60.0, "type": "Double"}})
    task_id = (await engine.task_of(instance, "work"))["id"]
    worker = bridge(make_transport, rq_redis, topic, "slow", queue, retries=0, cleanup_interval=0.2)
    registry = StartedJobRegistry(queue, connection=rq_redis)

    async with running(worker):
        with rq_worker(rq_url, queue, "rq.worker.SimpleWorker") as process:
            await eventually(lambda: asyncio.to_thread(runs, rq_redis, queue), timeout=15)
            process.kill()
            process.wait(5)
        # RQ gives a dead worker's job a minute or more of heartbeat; let that time pass
        for member in rq_redis.zrange(registry.key, 0, -1):
            rq_redis.zadd(registry.key, {member: 1}, xx=True)
        [incident] = await eventually(lambda: engine.incidents(instance))

    assert incident["incidentMessage"] == LOST
    details = await engine.http.get(f"/external-task/{task_id}/errorDetails")
    assert details.text.startswith(f"RQ job {task_id} on queue {queue} was abandoned")
    assert "AbandonedJobError" in details.text
    assert Job.fetch(task_id, connection=rq_redis).get_status() == JobStatus.FAILED


async def test_the_rq_bridge_command_serves_a_topic_and_exits_0_on_sigterm(
    engine: Engine,
    topic: str,
    queue: str,
    rq_url: str,
    rq_redis: redis.Redis,
    env: dict[str, str],
    redis_url: str,
) -> None:
    key = await engine.deploy_process(topic)
    instance = await engine.start(key)
    command = [sys.executable, "-m", "redtask", "--log-level", "WARNING", "rq-bridge"]
    command += [topic, f"{JOBS}.answer", "--queue", queue, "--rq-redis-url", rq_url]
    command += ["--transport", "redis", "--redis-url", redis_url, "--poll-interval", "0.05"]
    command += ["--metrics-port", str(metrics_port := free_port())]
    bridge_process = subprocess.Popen(command, cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)})
    try:
        with rq_worker(rq_url, queue):
            await engine.reaches(instance, ["next"], timeout=20)
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
        bridge_process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(bridge_process.wait, 15) == 0
    finally:
        if bridge_process.poll() is None:
            bridge_process.kill()
            bridge_process.wait()

    # a job's return value that is not a dict is the variable "result"
    assert (await engine.variables(instance))["result"]["value"] == 42
    counted = {
        (s.name, s.labels.get("topic")): s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
    }
    assert counted[("redtask_worker_tasks_completed_total", topic)] == 1
    assert counted[("redtask_worker_tasks_fetched_total", topic)] == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["t", "not_dotted", "--queue", "q"], "'not_dotted' is not a dotted path"),
        (["t", "a.f", "--queue", "q", "--retries", "-1"], "argument --retries: must be at least"),
        (
            ["t", "a.f", "--queue", "q", "--job-timeout", "0"],
            "job timeout must be a positive",
        ),
    ],
)
def test_the_rq_bridge_command_exits_2_with_a_readable_message_for_bad_arguments(
    arguments: list[str], message: str
) -> None:
    command = [sys.executable, "-m", "redtask", "rq-bridge", *arguments]
    command += ["--rq-redis-url", "redis://127.0.0.1:1/0"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert message in result.stderr
