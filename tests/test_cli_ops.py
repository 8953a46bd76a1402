"""`redtask topics`, `tasks`, `incidents --retry`, `cancel`, `--version` and `completion`
against a real gateway process: exact tables, JSON and exit codes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import gateway_process, redtask_env

REDTASK = [sys.executable, "-m", "redtask"]
SIMPLE = Path(__file__).parent / "broker" / "bpmn" / "files" / "simple.bpmn"


def redtask(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REDTASK, *args], capture_output=True, text=True, timeout=30, input=stdin
    )


@pytest.fixture(scope="module")
def base(redis_url: str) -> Iterator[str]:
    """A gateway (its own namespace) with simple.bpmn (key "order", topic "charge-card")."""
    with gateway_process(redtask_env(redis_url, f"ops{uuid.uuid4().hex[:8]}")) as url:
        deployed = redtask("deploy", "--url", f"{url}/engine-rest", str(SIMPLE))
        assert deployed.returncode == 0, deployed.stderr
        yield str(url)


@pytest.fixture
def api(base: str) -> str:
    return f"{base}/engine-rest"


@pytest.fixture
def topic() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def publish(base: str, topic: str, count: int) -> list[str]:
    response = httpx.post(f"{base}/redtask/topics/{topic}/tasks", json=[{}] * count)
    assert response.status_code == 201, response.text
    return list(response.json()["ids"])


def lock(api: str, topic: str, count: int, worker: str = "w1") -> list[dict]:
    body = {
        "workerId": worker,
        "maxTasks": count,
        "topics": [{"topicName": topic, "lockDuration": 600_000}],
    }
    response = httpx.post(f"{api}/external-task/fetchAndLock", json=body)
    assert response.status_code == 200
    return list(response.json())


def fail(api: str, task_id: str, worker: str = "w1") -> None:
    failure = {"workerId": worker, "errorMessage": "declined", "retries": 0, "retryTimeout": 0}
    response = httpx.post(f"{api}/external-task/{task_id}/failure", json=failure)
    assert response.status_code == 204


def topic_line(out: str, topic: str) -> list[str]:
    [line] = [line for line in out.splitlines() if line.split()[0] == topic]
    return line.split()


def test_topics_prints_the_depth_table_and_json(api: str, base: str, topic: str) -> None:
    publish(base, topic, 3)
    [_locked, failed] = lock(api, topic, 2)
    fail(api, failed["id"])
    result = redtask("topics", "--url", api)
    assert result.returncode == 0, result.stderr
    header, *_ = result.stdout.splitlines()
    assert header.split() == ["TOPIC", "AVAILABLE", "LOCKED", "RETRYING", "INCIDENTS"]
    assert topic_line(result.stdout, topic) == [topic, "1", "1", "0", "1"]
    as_json = redtask("topics", "--json", "--url", api)
    rows = [r for r in json.loads(as_json.stdout) if r["topicName"] == topic]
    assert rows == [
        {"topicName": topic, "available": 1, "locked": 1, "retrying": 0, "incidents": 1}
    ]


def test_topics_watch_redraws_until_interrupted(api: str, base: str, topic: str) -> None:
    publish(base, topic, 2)
    proc = subprocess.Popen(
        [*REDTASK, "topics", "--watch", "--interval", "0.2", "--url", api],
        stdout=subprocess.PIPE,
        text=True,
    )
    # interrupted once it has drawn two whole frames (and started a third)
    assert proc.stdout is not None
    seen = ""
    while seen.count("\x1b[H\x1b[2J") < 3:
        line = proc.stdout.readline()
        assert line, "redtask topics --watch exited on its own"
        seen += line
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0
    frames = (seen + out).split("\x1b[H\x1b[2J")[1:]
    assert len(frames) >= 2
    assert topic_line(frames[0], topic) == [topic, "2", "0", "0", "0"]


def test_topics_watch_ends_quietly_when_interrupted_in_the_middle_of_a_request() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:  # accepts, never answers
        port = server.getsockname()[1]
        proc = subprocess.Popen(
            [*REDTASK, "topics", "--watch", "--url", f"http://127.0.0.1:{port}/engine-rest"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        server.settimeout(60)
        connection, _ = server.accept()  # the command is inside its request now
        with connection:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=15)
    assert (proc.returncode, out, err) == (0, "", "")


def test_tasks_filters_by_topic_state_and_worker(api: str, base: str, topic: str) -> None:
    ids = publish(base, topic, 3)
    [locked] = lock(api, topic, 1, worker="w-ops")
    all_rows = redtask("tasks", "--topic", topic, "--url", api)
    assert all_rows.returncode == 0, all_rows.stderr
    lines = all_rows.stdout.splitlines()
    assert lines[0].split() == ["ID", "TOPIC", "WORKER", "RETRIES", "LOCKED", "UNTIL", "INSTANCE"]
    assert sorted(line.split()[0] for line in lines[1:]) == sorted(ids)
    held = redtask("tasks", "--topic", topic, "--state", "locked", "--url", api)
    [row] = held.stdout.splitlines()[1:]
    assert row.split()[:4] == [locked["id"], topic, "w-ops", "-"]
    assert row.split()[5] == "-"  # a standalone task has no process instance
    by_worker = redtask("tasks", "--worker", "w-ops", "--json", "--url", api)
    assert [t["id"] for t in json.loads(by_worker.stdout)] == [locked["id"]]
    free = redtask("tasks", "--topic", topic, "--state", "available", "--json", "--url", api)
    assert sorted(t["id"] for t in json.loads(free.stdout)) == sorted(set(ids) - {locked["id"]})


def test_incidents_retry_one_by_incident_id_makes_the_task_fetchable(api: str) -> None:
    started = redtask("start", "order", "--url", api)
    instance_id = started.stdout.strip()
    [task] = [t for t in lock(api, "charge-card", 10) if t["processInstanceId"] == instance_id]
    fail(api, task["id"])
    [incident] = httpx.get(f"{api}/incident", params={"processInstanceId": instance_id}).json()
    listed = redtask("incidents", "--url", api)
    assert f"{incident['id']}  failedExternalTask  {instance_id}  charge  declined" in (
        listed.stdout.splitlines()
    )
    retried = redtask("incidents", "--retry", incident["id"], "--url", api)
    assert (retried.returncode, retried.stdout) == (0, "retries set to 1 on 1 tasks\n")
    assert httpx.get(f"{api}/incident", params={"processInstanceId": instance_id}).json() == []
    assert [t["id"] for t in lock(api, "charge-card", 10)] == [task["id"]]


def test_incidents_retry_of_a_topic_asks_for_confirmation(api: str, base: str, topic: str) -> None:
    ids = publish(base, topic, 2)
    for task in lock(api, topic, 2):
        fail(api, task["id"])
    declined = redtask("incidents", "--topic", topic, "--url", api, stdin="n\n")
    assert declined.returncode == 1
    assert declined.stdout == "Set retries to 1 on 2 tasks? [y/N] "
    assert declined.stderr == "redtask incidents: not confirmed; nothing changed\n"
    assert lock(api, topic, 2) == []
    confirmed = redtask("incidents", "--topic", topic, "--retries", "3", "--url", api, stdin="y\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert confirmed.stdout.endswith("retries set to 3 on 2 tasks\n")
    fetched = lock(api, topic, 5)
    assert sorted(t["id"] for t in fetched) == sorted(ids)
    assert {t["retries"] for t in fetched} == {3}
    for task in fetched:
        fail(api, task["id"])
    everything = redtask("incidents", "--all", "--yes", "--json", "--url", api)
    assert everything.returncode == 0, everything.stderr
    assert set(ids) <= set(json.loads(everything.stdout)["retried"])
    nothing = redtask("incidents", "--topic", topic, "--url", api)
    assert (nothing.returncode, nothing.stdout) == (0, "no tasks with incidents\n")


def test_cancel_ends_an_instance_and_an_unknown_one_exits_1(api: str) -> None:
    instance_id = redtask("start", "order", "--url", api).stdout.strip()
    cancelled = redtask("cancel", instance_id, "--reason", "ops", "--url", api)
    assert (cancelled.returncode, cancelled.stdout) == (0, f"cancelled {instance_id}\n")
    assert httpx.get(f"{api}/process-instance/{instance_id}").status_code == 404
    again = redtask("cancel", instance_id, "--url", api)
    assert again.returncode == 1
    assert again.stderr.startswith("redtask cancel: ") and again.stderr.count("\n") == 1


def test_the_gateway_url_defaults_to_redtask_gateway_host_and_port(base: str) -> None:
    port = base.rsplit(":", 1)[1]
    env = {**os.environ, "REDTASK_GATEWAY_HOST": "0.0.0.0", "REDTASK_GATEWAY_PORT": port}
    result = subprocess.run(
        [*REDTASK, "topics", "--json"], capture_output=True, text=True, env=env, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), list)
    unreachable = subprocess.run(
        [*REDTASK, "tasks"],
        capture_output=True,
        text=True,
        env={**env, "REDTASK_GATEWAY_PORT": "9"},
        timeout=30,
    )
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("redtask tasks: cannot reach http://127.0.0.1:9/")


def test_version_and_bash_completion() -> None:
    from importlib.metadata import version

    shown = redtask("--version")
    assert (shown.returncode, shown.stdout) == (0, f"redtask {version('redtask')}\n")
    script = redtask("completion", "bash").stdout
    completed = subprocess.run(
        [
            "bash",
            "-c",
            f"{script}\nCOMP_WORDS=(redtask inc); COMP_CWORD=1; _redtask; echo ${{COMPREPLY[@]}}"
            "\nCOMP_WORDS=(redtask incidents --re); COMP_CWORD=2; _redtask; "
            "echo ${COMPREPLY[@]}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert completed.stdout == "incidents\n--retries --retry\n"
    bad = redtask("incidents", "--all", "--topic", "x")
    assert bad.returncode == 2 and "not allowed with argument" in bad.stderr
    assert re.search(r"^\s+topics\s+\S", redtask("--help").stdout, re.M)


def test_redtask_gateway_listens_on_redtask_gateway_port(redis_url: str) -> None:
    from redtask.broker.embedded import free_port

    port = free_port()
    env = {
        **redtask_env(redis_url, f"ops{uuid.uuid4().hex[:8]}"),
        "REDTASK_GATEWAY_PORT": str(port),
    }
    proc = subprocess.Popen([*REDTASK, "--log-level", "WARNING", "gateway"], env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "gateway exited during startup"
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "gateway did not listen on the port"
                time.sleep(0.1)
        assert response.status_code == 200
    finally:
        proc.terminate()
        proc.wait(15)
