"""``--log-format json`` and ``--access-log``: the gateway's and the scheduler's log lines are
JSON objects with an ISO-8601 UTC timestamp, level, logger, message and the ids where known;
each request is logged once with its route template, status and a request id."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from redtask.broker.embedded import EmbeddedRedis, free_port
from tests.processes import redtask_env

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")


@pytest.fixture
def redis(tmp_path: Path):
    server = EmbeddedRedis(tmp_path / "redis").start()
    yield server
    server.stop()


def json_lines(stderr: bytes) -> list[dict]:
    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.strip()]
    for line in lines:
        assert ISO_UTC.match(line["ts"]), line
        assert {"level", "logger", "message"} <= line.keys()
    return lines


def stop(proc: subprocess.Popen[bytes]) -> bytes:
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0
    return stderr


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} never answered"
        time.sleep(0.05)


def test_the_gateway_logs_json_lines_and_each_request_with_its_ids(redis) -> None:
    port = free_port()
    env = redtask_env(redis.url, "logs")
    command = [sys.executable, "-m", "redtask", "gateway", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--log-format", "json", "--access-log"], env=env, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/health/ready")
        published = httpx.post(f"{base}/redtask/topics/mail/tasks", json={})
        task_id = published.json()["ids"][0]
        answer = httpx.get(f"{base}/engine-rest/external-task/{task_id}")
        assert answer.status_code == 200
        given = httpx.get(
            f"{base}/engine-rest/external-task/count", headers={"X-Request-Id": "req-42"}
        )
        assert given.headers["x-request-id"] == "req-42"
        bad = httpx.get(f"{base}/health/live", headers={"X-Request-Id": "a b;" * 30})
        assert re.fullmatch(r"[0-9a-f]{32}", bad.headers["x-request-id"])
    finally:
        stderr = stop(proc)

    lines = json_lines(stderr)
    access = [line for line in lines if line["logger"] == "redtask.gateway.access"]
    by_route = {line["route"]: line for line in access}
    publish = by_route["/redtask/topics/{topic}/tasks"]
    assert (publish["level"], publish["method"], publish["status"]) == ("INFO", "POST", 201)
    assert publish["topic"] == "mail"
    assert publish["message"].startswith("POST /redtask/topics/mail/tasks 201 ")
    got = by_route["/engine-rest/external-task/{id}"]
    assert (got["task_id"], got["status"], got["path"]) == (
        task_id,
        200,
        f"/engine-rest/external-task/{task_id}",
    )
    assert re.fullmatch(r"[0-9a-f]{32}", got["request_id"])
    assert by_route["/engine-rest/external-task/count"]["request_id"] == "req-42"
    assert len({line["request_id"] for line in access}) == len(access)
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # one set-up for all


def test_the_scheduler_logs_json_lines_with_its_id(redis) -> None:
    env = redtask_env(redis.url, "logs", REDTASK_LOG_FORMAT="json")
    proc = subprocess.Popen(
        [sys.executable, "-m", "redtask", "scheduler", "--id", "sched-7"],
        env=env,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    first: list[bytes] = []  # the started line, read beside the test so a hang stays bounded
    reader = threading.Thread(target=lambda: first.append(proc.stderr.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout=30)
    lines = json_lines(b"".join(first) + stop(proc))
    own = [line for line in lines if line["logger"] == "redtask.broker.scheduler"]
    assert [line["message"] for line in own] == [
        "scheduler sched-7 started (interval 20 ms)",
        "scheduler sched-7 stopped after moving 0 tasks",
    ]
    assert {line["scheduler_id"] for line in own} == {"sched-7"}
    assert {line["level"] for line in own} == {"INFO"}
