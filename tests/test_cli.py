"""The `redtask` command: help texts, clear errors, and `redtask up` end to end."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from redtask.broker.connection import client_for
from redtask.broker.embedded import free_port
from redtask.broker.model import NewTask
from redtask.broker.settings import Settings
from redtask.broker.store import Store

REDTASK = [sys.executable, "-m", "redtask"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDTASK_")}
    env.update(extra)
    return env


def test_help_lists_every_command() -> None:
    out = subprocess.run([*REDTASK, "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("up", "scheduler", "gateway"):
        assert re.search(rf"^\s+{command}\s+\S", out, re.M), command
    for command, flag in (("up", "--data-dir"), ("scheduler", "--check"), ("gateway", "--port")):
        sub = subprocess.run(
            [*REDTASK, command, "--help"], capture_output=True, text=True, check=True
        )
        assert flag in sub.stdout


def test_commands_needing_redis_say_how_to_configure_it() -> None:
    result = subprocess.run(
        [*REDTASK, "scheduler"], capture_output=True, text=True, env=_env(), timeout=30
    )
    assert result.returncode == 1
    assert "REDTASK_REDIS_URL" in result.stderr and "redtask up" in result.stderr


def test_scheduler_check_reports_a_missing_heartbeat(redis_url: str, namespace: str) -> None:
    result = subprocess.run(
        [*REDTASK, "scheduler", "--check", "--id", "nobody"],
        capture_output=True,
        text=True,
        timeout=30,
        env=_env(REDTASK_REDIS_URL=redis_url, REDTASK_NAMESPACE=namespace),
    )
    assert result.returncode == 1
    assert "scheduler nobody: no recent heartbeat" in result.stderr


def _start_up(data_dir: Path, port: int) -> tuple[subprocess.Popen[str], str, int]:
    proc = subprocess.Popen(
        [*REDTASK, "up", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            break
    banner = "".join(lines)
    assert f"REST API   http://127.0.0.1:{port}/engine-rest" in banner, banner
    assert f"dashboard  http://127.0.0.1:{port}/redtask/ui\n" in banner, banner
    redis_url = re.search(r"Redis\s+(redis://\S+) \(embedded", banner)
    scheduler_pid = re.search(r"scheduler\s+pid (\d+)", banner)
    assert redis_url and scheduler_pid, banner
    return proc, redis_url.group(1), int(scheduler_pid.group(1))


async def test_up_serves_the_api_stops_cleanly_and_keeps_its_data(tmp_path: Path) -> None:
    port = free_port()
    proc, redis_url, scheduler_pid = _start_up(tmp_path, port)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/engine-rest/version")
        assert response.json() == {"version": "7.24.0"}
        assert httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200
        dashboard = httpx.get(f"http://127.0.0.1:{port}/redtask/ui", follow_redirects=True)
        assert (dashboard.status_code, dashboard.url.path) == (200, "/redtask/ui/topics")
        store = Store(client_for(redis_url), Settings())
        [task_id] = await store.publish_many([NewTask("kept")])
        await store.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert not Path(f"/proc/{scheduler_pid}").exists()

    proc, redis_url, _ = _start_up(tmp_path, port)
    try:
        store = Store(client_for(redis_url), Settings())
        assert (await store.get(task_id)).topic_name == "kept"
        await store.close()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
