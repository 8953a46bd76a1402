"""`redtask start`, `redtask instances` and `redtask incidents` against a real gateway process."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import gateway_process, redtask_env

REDTASK = [sys.executable, "-m", "redtask"]
SIMPLE = Path(__file__).parent / "broker" / "bpmn" / "files" / "simple.bpmn"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def redtask(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*REDTASK, *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def api(redis_url: str, namespace: str) -> Iterator[str]:
    """A gateway's REST root with simple.bpmn (key "order", topic "charge-card") deployed."""
    with gateway_process(redtask_env(redis_url, namespace)) as base:
        url = f"{base}/engine-rest"
        deployed = redtask("deploy", "--url", url, str(SIMPLE))
        assert deployed.returncode == 0, deployed.stderr
        yield url


def fetch(api: str) -> list[dict]:
    body = {
        "workerId": "w",
        "maxTasks": 5,
        "topics": [{"topicName": "charge-card", "lockDuration": 60_000}],
    }
    response = httpx.post(f"{api}/external-task/fetchAndLock", json=body)
    assert response.status_code == 200
    return response.json()


def test_start_sends_typed_variables_and_instances_lists_them(api: str) -> None:
    variables = ["n=42", "big=5000000000", "pi=3.5", "ok=true", "none=null", "s=hello world"]
    variables += ["amount:Double=5", "when:Date=2024-01-01T00:00:00.000+0000", "id:String=7"]
    args = [f"--var={v}" for v in variables]
    started = redtask("start", "order", *args, "--business-key", "BK-1", "--url", api)
    assert started.returncode == 0, started.stderr
    assert re.fullmatch(rf"{UUID}\n", started.stdout)
    instance_id = started.stdout.strip()
    plain = redtask("start", "order", "--url", api)
    assert plain.returncode == 0, plain.stderr
    other_id = plain.stdout.strip()

    [task] = [t for t in fetch(api) if t["processInstanceId"] == instance_id]
    assert task["businessKey"] == "BK-1"
    assert {name: (v["type"], v["value"]) for name, v in task["variables"].items()} == {
        "n": ("Integer", 42),
        "big": ("Long", 5_000_000_000),
        "pi": ("Double", 3.5),
        "ok": ("Boolean", True),
        "none": ("Null", None),
        "s": ("String", "hello world"),
        "amount": ("Double", 5.0),
        "when": ("Date", "2024-01-01T00:00:00.000+0000"),
        "id": ("String", "7"),
    }

    listed = redtask("instances", "--url", api)
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.splitlines()) == sorted(
        [f"{instance_id}  order  BK-1", f"{other_id}  order  -"]
    )
    none = redtask("instances", "--key", "nope", "--url", api)
    assert (none.returncode, none.stdout) == (0, "")


def test_an_incident_appears_after_a_failure_without_retries(api: str) -> None:
    assert redtask("incidents", "--url", api).stdout == ""
    started = redtask("start", "order", "--url", api)
    instance_id = started.stdout.strip()
    [task] = fetch(api)
    failure = {"workerId": "w", "errorMessage": "card declined", "retries": 0, "retryTimeout": 0}
    response = httpx.post(f"{api}/external-task/{task['id']}/failure", json=failure)
    assert response.status_code == 204
    listed = redtask("incidents", "--url", api)
    assert listed.returncode == 0, listed.stderr
    [incident] = httpx.get(f"{api}/incident").json()
    expected = f"{incident['id']}  failedExternalTask  {instance_id}  charge  card declined\n"
    assert listed.stdout == expected


def test_errors_are_one_line_and_exit_1(api: str) -> None:
    unknown = redtask("start", "nope", "--url", api)
    assert (unknown.returncode, unknown.stdout) == (1, "")
    assert re.fullmatch(r"redtask start: \w+Exception: .*nope.*\n", unknown.stderr)
    bad_value = redtask("start", "order", "--var", "n:Integer=abc", "--url", api)
    assert bad_value.returncode == 1
    assert bad_value.stderr.startswith("redtask start: InvalidRequestException: ")
    assert bad_value.stderr.count("\n") == 1


def test_an_unreachable_gateway_and_bad_var_syntax() -> None:
    url = "http://127.0.0.1:9/engine-rest"
    for command in (["start", "order"], ["instances"], ["incidents"]):
        result = redtask(*command, "--url", url)
        assert result.returncode == 1
        assert result.stderr.startswith(f"redtask {command[0]}: cannot reach {url}/")
        assert result.stderr.count("\n") == 1
    for spec in ("novalue", "=1", "x:Nope=1", "a:b:c=1"):
        result = redtask("start", "order", "--var", spec, "--url", url)
        assert result.returncode == 2, spec
        assert "argument --var" in result.stderr


def test_help_lists_the_commands() -> None:
    out = redtask("--help").stdout
    for command in ("start", "instances", "incidents"):
        assert re.search(rf"^\s+{command}\s+\S", out, re.M), command
    assert "NAME[:TYPE]=VALUE" in redtask("start", "--help").stdout
