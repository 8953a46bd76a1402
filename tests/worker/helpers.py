"""Helpers for worker tests: running a worker in the test's loop or as a `redtask worker`
process, waiting for a condition, and a small process per test (its own key and topics)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx

from redtask.broker.errors import TaskNotFound
from redtask.broker.store import Store
from redtask.worker import ExternalTask, Worker
from redtask.worker.transport.base import Subscription, Transport
from redtask.worker.values import TypedValue

ROOT = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    """Run ``worker`` for the duration of the block, then stop it and wait for it."""
    job = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(job, 30)


async def run_each_once(
    store: Store,
    topic: str,
    transport: Transport,
    tasks: int,
    concurrency: int,
    seconds: float,
) -> int:
    """Publish ``tasks`` tasks and run a worker whose handler takes ``seconds`` until it has
    run them all, each exactly once and none left behind (asserted); returns the most
    handlers that ran at once. Locks last 60 s: a task locked and never handed out fails it."""
    from redtask.broker.model import NewTask

    ids = await store.publish_many([NewTask(topic) for _ in range(tasks)])
    worker = Worker(transport, concurrency=concurrency, poll_timeout=200, worker_id="w-once")
    ran: list[str] = []
    now = peak = 0

    @worker.task(topic, lock_duration=60_000)
    async def handler(task: ExternalTask) -> None:
        nonlocal now, peak
        now += 1
        peak = max(peak, now)
        await asyncio.sleep(seconds)
        now -= 1
        ran.append(task.id)
        if len(ran) == len(ids):
            worker.stop()

    await asyncio.wait_for(worker.run(), 30)
    assert sorted(ran) == sorted(ids)  # each task once, none lost
    stats = {s.topic_name: s for s in await store.topic_stats()}.get(topic)
    assert stats is None or (stats.available, stats.locked) == (0, 0)
    return peak


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 10.0, interval: float = 0.02
) -> Any:
    """Await ``check()`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"condition not met within {timeout}s"
        await asyncio.sleep(interval)


class Faulty:
    """A real transport whose calls of a method first take the next item queued in
    ``faults[name]``: an exception to raise, or None to let that call through.
    ``garbled_fetches`` fetches lock their tasks and then raise, as a malformed reply would."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.faults: dict[str, list[BaseException | None]] = {}
        self.garbled_fetches = 0
        self.before_fetch: Callable[[int], None] | None = None  # called with max_tasks

    def _fault(self, method: str) -> None:
        queued = self.faults.get(method)
        if queued and (fault := queued.pop(0)) is not None:
            raise fault

    async def fetch_and_lock(
        self,
        worker_id: str,
        max_tasks: int,
        subscriptions: Sequence[Subscription],
        *,
        use_priority: bool,
        wait_ms: int,
    ) -> list[ExternalTask]:
        if self.before_fetch is not None:
            self.before_fetch(max_tasks)
        self._fault("fetch_and_lock")
        tasks = await self.inner.fetch_and_lock(
            worker_id, max_tasks, subscriptions, use_priority=use_priority, wait_ms=wait_ms
        )
        if tasks and self.garbled_fetches:
            self.garbled_fetches -= 1
            raise ValueError(f"malformed fetchAndLock reply ({len(tasks)} tasks)")
        return tasks

    async def complete(
        self,
        task: ExternalTask,
        variables: Mapping[str, TypedValue],
        local_variables: Mapping[str, TypedValue],
    ) -> None:
        self._fault("complete")
        await self.inner.complete(task, variables, local_variables)

    async def failure(
        self,
        task: ExternalTask,
        error_message: str,
        error_details: str | None,
        retries: int,
        retry_timeout: int,
    ) -> None:
        self._fault("failure")
        await self.inner.failure(task, error_message, error_details, retries, retry_timeout)

    async def bpmn_error(
        self,
        task: ExternalTask,
        error_code: str,
        error_message: str | None,
        variables: Mapping[str, TypedValue],
    ) -> None:
        self._fault("bpmn_error")
        await self.inner.bpmn_error(task, error_code, error_message, variables)

    async def extend_lock(self, task: ExternalTask, new_duration: int) -> None:
        self._fault("extend_lock")
        await self.inner.extend_lock(task, new_duration)

    async def unlock(self, task: ExternalTask) -> None:
        self._fault("unlock")
        await self.inner.unlock(task)

    async def aclose(self) -> None:
        await self.inner.aclose()


def sleep_for(seconds: float) -> dict[str, dict[str, object]]:
    """Variables that make a task of tests/worker/apps.py sleep ``seconds``."""
    return {"sleep": {"value": seconds, "type": "Double"}}


@contextmanager
def worker_process(
    env: dict[str, str],
    kind: str,
    api: str,
    topic: str,
    marks: Path,
    *,
    worker_id: str | None,
    grace: float = 10,
    lock_ms: int = 2_000,
    extra: tuple[str, ...] = (),
) -> Iterator[subprocess.Popen[bytes]]:
    """``redtask worker tests.worker.apps:worker`` as a subprocess (``worker_id`` None: the
    default id); its log goes to ``marks / "worker.log"``."""
    command = [
        sys.executable, "-m", "redtask", "--log-level", "INFO", "worker",
        "tests.worker.apps:worker", "--transport", kind, "--url", api,
        "--grace", str(grace), *extra,
    ]  # fmt: skip
    if worker_id is not None:
        command += ["--worker-id", worker_id]
    process_env = {
        **env,
        "APP_TOPIC": topic,
        "APP_MARKS": str(marks),
        "APP_LOCK_MS": str(lock_ms),
    }
    with (marks / "worker.log").open("wb") as log:
        proc = subprocess.Popen(command, env=process_env, cwd=ROOT, stderr=log)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def appears(path: Path, timeout: float = 15) -> None:
    async def exists() -> bool:
        return path.exists()

    await eventually(exists, timeout)


async def finished(store: Store, task_id: str) -> bool:
    try:
        await store.get(task_id)
    except TaskNotFound:
        return True
    return False


def process_xml(key: str, topic: str, error_code: str = "FAILED") -> str:
    """start → work(topic) → next(topic-next) → end, and an error boundary on ``work``
    (``error_code``) leading to caught(topic-caught)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:error id="err" errorCode="{error_code}" />
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:serviceTask id="work" camunda:type="external" camunda:topic="{topic}" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="next" />
    <bpmn:serviceTask id="next" camunda:type="external" camunda:topic="{topic}-next" />
    <bpmn:sequenceFlow id="f3" sourceRef="next" targetRef="end" />
    <bpmn:endEvent id="end" />
    <bpmn:boundaryEvent id="on_error" attachedToRef="work">
      <bpmn:errorEventDefinition errorRef="err" />
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f4" sourceRef="on_error" targetRef="caught" />
    <bpmn:serviceTask id="caught" camunda:type="external" camunda:topic="{topic}-caught" />
    <bpmn:sequenceFlow id="f5" sourceRef="caught" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""


class Engine:
    """The gateway's REST API, for setting up processes and reading their state."""

    def __init__(self, api: str) -> None:
        self.api = api
        self.http = httpx.AsyncClient(base_url=api, timeout=10)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def deploy_process(self, topic: str, error_code: str = "FAILED") -> str:
        key = f"p{uuid.uuid4().hex[:10]}"
        response = await self.http.post(
            "/deployment/create",
            data={"deployment-name": key},
            files={"data": (f"{key}.bpmn", process_xml(key, topic, error_code), "text/xml")},
        )
        assert response.status_code == 200, response.text
        return key

    async def start(self, key: str, variables: dict[str, Any] | None = None) -> str:
        typed = {name: value for name, value in (variables or {}).items()}
        response = await self.http.post(
            f"/process-definition/key/{key}/start", json={"variables": typed}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    async def waiting_at(self, instance_id: str) -> list[str]:
        """The activity ids of the instance's external tasks."""
        response = await self.http.get("/external-task", params={"processInstanceId": instance_id})
        assert response.status_code == 200, response.text
        return sorted(t["activityId"] for t in response.json())

    async def reaches(self, instance_id: str, activities: list[str], timeout: float = 10) -> None:
        """Wait until the instance's external tasks are exactly at ``activities``."""

        async def there() -> bool:
            return await self.waiting_at(instance_id) == activities

        await eventually(there, timeout)

    async def variables(self, instance_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/process-instance/{instance_id}/variables")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def task_of(self, instance_id: str, activity_id: str) -> dict[str, Any]:
        response = await self.http.get(
            "/external-task",
            params={"processInstanceId": instance_id, "activityId": activity_id},
        )
        assert response.status_code == 200, response.text
        [task] = response.json()
        return dict(task)

    async def incidents(self, instance_id: str) -> list[dict[str, Any]]:
        response = await self.http.get("/incident", params={"processInstanceId": instance_id})
        assert response.status_code == 200, response.text
        return list(response.json())
