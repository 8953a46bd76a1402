"""Starting real redtask processes (gateway, scheduler) for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import redis

from redtask.broker.embedded import free_port


def redtask_env(
    redis_url: str, namespace: str, partitions: int = 1, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDTASK_")}
    env.update(
        REDTASK_REDIS_URL=redis_url,
        REDTASK_NAMESPACE=namespace,
        REDTASK_PARTITIONS=str(partitions),
        REDTASK_SCHEDULER_INTERVAL_MS="20",
    )
    env.update(extra)
    return env


class GatewayURL(str):
    """A gateway's base URL (without /engine-rest) that also knows its process."""

    process: subprocess.Popen[bytes]


@contextmanager
def gateway_process(env: dict[str, str], port: int = 0) -> Iterator[GatewayURL]:
    """A `redtask gateway` on ``port`` (default: a free one); yields its base URL (without
    /engine-rest)."""
    port = port or free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "redtask",
            "--log-level",
            "WARNING",
            "gateway",
            "--port",
            str(port),
        ],
        env=env,
    )
    base = GatewayURL(f"http://127.0.0.1:{port}")
    base.process = proc
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "gateway exited during startup"
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "gateway did not become ready"
            time.sleep(0.05)
        yield base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0


@contextmanager
def scheduler_process(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A `redtask scheduler`, yielded once it runs (its first heartbeat is in Redis: its signal
    handlers are installed, so a SIGTERM stops it gracefully)."""
    scheduler_id = f"test-{uuid.uuid4().hex[:8]}"
    env = {**env, "REDTASK_SCHEDULER_ID": scheduler_id}
    proc = subprocess.Popen([sys.executable, "-m", "redtask", "scheduler"], env=env)
    client = redis.Redis.from_url(env["REDTASK_REDIS_URL"])
    heartbeat = f"{env['REDTASK_NAMESPACE']}:scheduler:{scheduler_id}"
    try:
        deadline = time.monotonic() + 30
        while not client.exists(heartbeat):
            assert proc.poll() is None, "scheduler exited during startup"
            assert time.monotonic() < deadline, "scheduler did not start"
            time.sleep(0.02)
        yield proc
    finally:
        client.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
