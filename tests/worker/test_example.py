"""The README's quick start, run as written with real processes: `redtask deploy
examples/order.bpmn`, `redtask start` of each order, `redtask worker
examples.order_worker:worker`; every order ends on the path its input chooses."""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
REDTASK = [sys.executable, "-m", "redtask"]

# business key -> the variable its path sets, as (name, value); A-1..A-3 are the README's orders
EXPECTED = {
    "A-1": ("carrier", "post"),
    "A-2": ("carrier", "courier"),
    "A-3": ("rejection", "lamp: only 10 in stock"),
    "A-4": ("carrier", "post"),  # exactly the stock
    "A-5": ("rejection", "chair: only 4 in stock"),  # express, but out of stock first
    "A-6": ("carrier", "post"),  # express=false given explicitly
}
MORE_ORDERS = [
    "start order --business-key A-4 --var item=book --var quantity=100",
    "start order --business-key A-5 --var item=chair --var quantity=5 --var express=true",
    "start order --business-key A-6 --var item=lamp --var quantity=10 --var express=false",
]


def quick_start() -> list[list[str]]:
    """The redtask commands of the README's quick start, without the `.venv/bin/redtask`."""
    match = re.search(
        r"### Quick start: an order process\n.*?```bash\n(.*?)```", README.read_text(), re.S
    )
    assert match, "the README lost its quick start"
    commands = []
    for line in match.group(1).splitlines():
        words = shlex.split(line, comments=True)
        if words:
            assert words[0] == ".venv/bin/redtask", line
            commands.append(words[1:])
    return commands


def redtask(api: str, env: dict[str, str], args: list[str]) -> str:
    result = subprocess.run(
        [*REDTASK, *args, "--url", api], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


@pytest.fixture
def worker_log(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "worker.log"
    yield path
    print(path.read_text() if path.exists() else "(no worker output)")  # shown on failure


def finished(http: httpx.Client, expected: int, timeout: float = 30) -> list[dict[str, Any]]:
    """The ended `order` instances, once there are ``expected`` of them."""
    deadline = time.monotonic() + timeout
    while True:
        response = http.get("/history/process-instance", params={"processDefinitionKey": "order"})
        assert response.status_code == 200, response.text
        ended = [i for i in response.json() if i["endTime"] is not None]
        if len(ended) >= expected or time.monotonic() > deadline:
            return ended
        time.sleep(0.1)


def business_keys_where(http: httpx.Client, name: str, value: str) -> set[str]:
    query = {
        "processDefinitionKey": "order",
        "variables": [{"name": name, "operator": "eq", "value": value}],
    }
    response = http.post("/history/process-instance", json=query)
    assert response.status_code == 200, response.text
    return {i["businessKey"] for i in response.json()}


def test_the_quick_start_deploys_starts_and_a_worker_finishes_every_order(
    api: str, env: dict[str, str], worker_log: Path
) -> None:
    deploy, *starts, instances, worker = quick_start()
    assert deploy == ["deploy", "examples/order.bpmn"]
    assert [s[:4] for s in starts] == [
        ["start", "order", "--business-key", f"A-{n}"] for n in (1, 2, 3)
    ]
    assert instances == ["instances", "--key", "order"]
    assert worker == ["worker", "examples.order_worker:worker"]

    assert "key=order version=1" in redtask(api, env, deploy)
    ids = [redtask(api, env, args).strip() for args in [*starts, *map(shlex.split, MORE_ORDERS)]]
    assert all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in ids), ids  # none ended yet
    waiting = redtask(api, env, instances).splitlines()
    assert sorted(line.split()[0] for line in waiting) == sorted(ids)

    with worker_log.open("w") as log:
        proc = subprocess.Popen(
            [*REDTASK, *worker, "--url", api], env=env, cwd=ROOT, stdout=log, stderr=log
        )
        try:
            with httpx.Client(base_url=api, timeout=10) as http:
                ended = finished(http, len(EXPECTED))
                assert sorted(i["businessKey"] for i in ended) == sorted(EXPECTED)
                assert {i["state"] for i in ended} == {"COMPLETED"}
                assert sorted(i["id"] for i in ended) == sorted(ids)
                for name, value in set(EXPECTED.values()):
                    assert business_keys_where(http, name, value) == {
                        key for key, expected in EXPECTED.items() if expected == (name, value)
                    }
            assert redtask(api, env, instances) == ""  # nothing left running
            assert "(reserve-stock): BPMN error OUT_OF_STOCK" in worker_log.read_text()
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(30)
    assert code == 0
