"""End-to-end fixtures for the official Camunda external-task clients: a real gateway and a
real scheduler subprocess (``python -m redtask``) on the session Redis, in a namespace of
their own, and the JS client installed from its lock file.

Real processes mean real time: durations in these tests are short (a few seconds at most)
and every timing assertion leaves room for scheduling noise.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from redtask.broker.connection import client_for
from redtask.broker.embedded import free_port
from redtask.broker.settings import Settings
from redtask.broker.store import Store

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = Path(__file__).resolve().parent / "js"
PARTITIONS = 4
SCHEDULER_INTERVAL_MS = 20


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "<no log>"


def _stop(proc: subprocess.Popen[bytes], name: str, log: Path) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"{name} did not exit within 15 s of SIGTERM:\n{_tail(log)}")
    assert code == 0, f"{name} exited with {code} after SIGTERM:\n{_tail(log)}"


@pytest.fixture(scope="session")
def client_namespace() -> str:
    """The Redis namespace of the client tests' gateway and scheduler."""
    return f"clients{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def engine_rest(
    redis_url: str, client_namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real `redtask gateway` + `redtask scheduler`; yields http://127.0.0.1:PORT/engine-rest.

    Both are stopped with SIGTERM at the end of the session and must exit 0.
    """
    logs = tmp_path_factory.mktemp("client-stack")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDTASK_")}
    env.update(
        REDTASK_REDIS_URL=redis_url,
        REDTASK_NAMESPACE=client_namespace,
        REDTASK_PARTITIONS=str(PARTITIONS),
        REDTASK_SCHEDULER_INTERVAL_MS=str(SCHEDULER_INTERVAL_MS),
    )
    cli = [sys.executable, "-m", "redtask"]
    gateway_log, scheduler_log = logs / "gateway.log", logs / "scheduler.log"
    with gateway_log.open("wb") as g_out, scheduler_log.open("wb") as s_out:
        gateway = subprocess.Popen(
            [*cli, "gateway", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=g_out,
            stderr=subprocess.STDOUT,
        )
        scheduler = subprocess.Popen(
            [*cli, "scheduler", "--id", "client-tests"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=s_out,
            stderr=subprocess.STDOUT,
        )
    try:
        root = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            for proc, name, log in (
                (gateway, "gateway", gateway_log),
                (scheduler, "scheduler", scheduler_log),
            ):
                if proc.poll() is not None:
                    pytest.fail(f"{name} exited with {proc.returncode}:\n{_tail(log)}")
            try:
                if httpx.get(f"{root}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"gateway not ready within 30 s:\n{_tail(gateway_log)}")
            time.sleep(0.05)
        yield f"{root}/engine-rest"
    finally:
        try:
            _stop(gateway, "gateway", gateway_log)
        finally:
            _stop(scheduler, "scheduler", scheduler_log)
            asyncio.run(_drop_namespace(redis_url, client_namespace))


async def _drop_namespace(redis_url: str, namespace: str) -> None:
    client = client_for(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=f"*{namespace}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@dataclass
class Redtask:
    """Test-side access to the gateway under test (plain HTTP) and to its store."""

    engine_rest: str
    redis_url: str
    namespace: str

    @property
    def root(self) -> str:
        return self.engine_rest.rsplit("/engine-rest", 1)[0]

    def publish(self, topic: str, variables: dict[str, Any] | None = None) -> str:
        """Create a standalone task through redtask's extension endpoint; returns its id."""
        response = httpx.post(
            f"{self.root}/redtask/topics/{topic}/tasks", json={"variables": variables or {}}
        )
        assert response.status_code == 201, response.text
        task_id: str = response.json()["ids"][0]
        return task_id

    def get(self, task_id: str) -> httpx.Response:
        """GET /external-task/{id} (Camunda's own read endpoint)."""
        return httpx.get(f"{self.engine_rest}/external-task/{task_id}")

    def get_error_details(self, task_id: str) -> httpx.Response:
        return httpx.get(f"{self.engine_rest}/external-task/{task_id}/errorDetails")

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return httpx.post(f"{self.engine_rest}{path}", json=body, timeout=30)

    def finished(self, task_id: str) -> dict[str, Any]:
        """The store's finished-task log entry of ``task_id``, variables decoded."""
        entries = asyncio.run(self._finished())
        for entry in entries:
            if entry["id"] == task_id:
                decoded: dict[str, Any] = dict(entry)
                for key in ("v", "lv"):
                    if key in decoded:
                        decoded[key] = json.loads(decoded[key])
                return decoded
        raise AssertionError(f"task {task_id} is not in the finished-task log")

    async def _finished(self) -> list[dict[str, str]]:
        settings = Settings(namespace=self.namespace, partitions=PARTITIONS)
        store = Store(client_for(self.redis_url), settings)
        try:
            return await store.finished(1000)
        finally:
            await store.close()


@pytest.fixture
def redtask(engine_rest: str, redis_url: str, client_namespace: str) -> Redtask:
    return Redtask(engine_rest, redis_url, client_namespace)


@pytest.fixture
def topic(request: pytest.FixtureRequest) -> str:
    """A topic of this test's own, so tests never see each other's tasks."""
    return f"{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def js_client() -> Path:
    """tests/clients/js with its node_modules installed (``npm ci`` from the lock file)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    # the JS client is part of the compatibility promise: a machine without Node fails loudly
    assert node is not None and npm is not None, "node and npm are needed for the JS client tests"
    installed = JS_DIR / "node_modules" / "camunda-external-task-client-js" / "package.json"
    if not installed.exists():
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return JS_DIR
