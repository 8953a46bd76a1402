"""``redtask scheduler --health-port``: the kubelet's probe answers 200 while the scheduler's
passes succeed and 503 once none has for the heartbeat's lifetime (the rule of ``--check``), and
200 again when Redis is back."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from redtask.broker.embedded import EmbeddedRedis, free_port
from tests.processes import redtask_env

HEARTBEAT_TTL_S = 5.0  # max(5 s, 20 passes): the lifetime of the heartbeat key --check reads


def wait_for_status(url: str, status: int, within: float) -> float:
    """Seconds until GET ``url`` answered ``status``."""
    start = time.monotonic()
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == status:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        assert time.monotonic() - start < within, f"{url} never answered {status}"
        time.sleep(0.05)


def check(env: dict[str, str]) -> int:
    command = [sys.executable, "-m", "redtask", "scheduler", "--id", "probe-1", "--check"]
    return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode


@pytest.mark.slow
def test_the_probe_follows_the_scheduler_s_passes_as_check_does(tmp_path: Path) -> None:
    redis = EmbeddedRedis(tmp_path / "redis").start()
    port = free_port()
    env = redtask_env(redis.url, "health", REDTASK_SCHEDULER_INTERVAL_MS="50")
    command = [sys.executable, "-m", "redtask", "scheduler", "--id", "probe-1"]
    scheduler = subprocess.Popen([*command, "--health-port", str(port)], env=env)
    live = f"http://127.0.0.1:{port}/health/live"
    try:
        wait_for_status(live, 200, within=30)
        answer = httpx.get(live)
        assert (answer.status_code, answer.json()) == (200, {"status": "UP"})
        assert answer.headers["content-type"] == "application/json"
        assert httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200
        assert httpx.head(live).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 404
        assert httpx.post(live).status_code == 405
        assert check(env) == 0

        stopping = time.monotonic()
        redis.stop()  # every pass fails from now on
        wait_for_status(live, 503, within=HEARTBEAT_TTL_S + 5)
        # the last pass that succeeded ended before Redis stopped (give or take one interval)
        assert HEARTBEAT_TTL_S - 0.5 < time.monotonic() - stopping < HEARTBEAT_TTL_S + 3
        assert httpx.get(live).json() == {"status": "DOWN"}

        redis.start()  # same port, same data
        wait_for_status(live, 200, within=15)
        assert check(env) == 0
    finally:
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(20) == 0
        redis.stop()
