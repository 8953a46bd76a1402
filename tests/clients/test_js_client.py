"""The official JS client (camunda-external-task-client-js 3.x, unmodified) against a real
gateway: every scenario runs tests/clients/js/scenario.mjs in Node and checks what the
client's handler saw and what the broker recorded.

On failure the messages show the client's HTTP exchanges (request body, status, response).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.clients.conftest import Redtask
from tests.clients.typed import OBJECT_INFO, PUBLISHED, RAW_BYTES

CAMUNDA_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$")


def _worker_id() -> str:
    return f"js-{uuid.uuid4().hex[:8]}"


def _show_trace(result: dict[str, Any]) -> str:
    lines = []
    for x in result.get("trace", []):
        if x.get("path", "").endswith("/fetchAndLock") and x.get("response") == "[]":
            continue  # empty polls are noise
        lines.append(f"  {x.get('method')} {x.get('path')} -> {x.get('status')}")
        lines.append(f"    sent:     {json.dumps(x.get('request'))}")
        lines.append(f"    answered: {x.get('response')}")
    return "\n".join(lines)


def _explain(result: dict[str, Any], stderr: str = "") -> str:
    return (
        f"error: {result.get('error')}\nclient errors: {result.get('errors')}\n"
        f"HTTP exchanges:\n{_show_trace(result)}\nstderr:\n{stderr[-2000:]}"
    )


def _parse(stdout: str, stderr: str, returncode: int) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        pytest.fail(f"scenario printed no result (exit {returncode}):\n{stdout}\n{stderr}")
    result: dict[str, Any] = json.loads(lines[-1])
    if returncode != 0 or result.get("errors"):
        pytest.fail(f"JS scenario failed (exit {returncode}):\n{_explain(result, stderr)}")
    return result


def run_js(js_dir: Path, engine_rest: str, scenario: str, **options: Any) -> dict[str, Any]:
    """Run one scenario to its end; fail the test with the HTTP trace if it did not succeed."""
    options.setdefault("workerId", _worker_id())
    proc = subprocess.run(
        ["node", "scenario.mjs", engine_rest, scenario, json.dumps(options)],
        cwd=js_dir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return _parse(proc.stdout, proc.stderr, proc.returncode)


def _ms(camunda_date: str) -> int:
    assert CAMUNDA_DATE.match(camunda_date), camunda_date
    return int(datetime.strptime(camunda_date, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)


# name -> (type as the library reports it, JS type of the value, value as printed by the script)
EXPECTED_IN_HANDLER: dict[str, tuple[str, str, Any]] = {
    "aString": ("string", "string", 'héllo "world" ✓'),
    "anInteger": ("integer", "number", 2147483647),
    "aLong": ("long", "number", 9007199254740991),
    "aDouble": ("double", "number", -3.25),
    "aWholeDouble": ("double", "number", 4),
    "aBoolean": ("boolean", "boolean", True),
    # Date values become JS Date objects (printed with toISOString())
    "aDate": ("date", "Date", "2024-02-29T23:59:58.123Z"),
    "anOffsetDate": ("date", "Date", "2024-03-01T08:00:00.000Z"),
    # Json values are parsed into objects
    "aJson": ("json", "object", {"items": [1, 2.5, "x", None], "ok": True}),
    # Object values stay serialized strings; the library does not decode Bytes (base64 string)
    "anObject": ("object", "string", '{"name":"order","amount":12}'),
    "someBytes": ("bytes", "string", base64.b64encode(RAW_BYTES).decode()),
    "nothing": ("null", "null", None),
}


def test_handler_receives_every_typed_variable(
    redtask: Redtask, topic: str, js_client: Path
) -> None:
    variables = {
        **PUBLISHED,
        "anOffsetDate": {"type": "Date", "value": "2024-03-01T10:00:00.000+0200"},
    }
    task_id = redtask.publish(topic, variables)

    result = run_js(js_client, redtask.engine_rest, "receive", topic=topic)

    [delivery] = result["deliveries"]
    assert delivery["id"] == task_id
    assert delivery["workerId"] == result["workerId"]
    seen = {name: (v["type"], v["jsType"], v["value"]) for name, v in delivery["variables"].items()}
    assert seen == EXPECTED_IN_HANDLER, _explain(result)
    for name, v in delivery["variables"].items():
        assert v["valueInfo"] == (OBJECT_INFO if name == "anObject" else {}), name
    # variables.get(name) gives the same values as getTyped(name).value
    assert delivery["plain"]["aJson"] == EXPECTED_IN_HANDLER["aJson"][2]
    assert delivery["plain"]["aDate"] == "2024-02-29T23:59:58.123Z"
    assert base64.b64decode(delivery["plain"]["someBytes"]) == RAW_BYTES
    assert redtask.finished(task_id)["outcome"] == "complete"


def test_complete_records_exactly_the_typed_variables_sent(
    redtask: Redtask, topic: str, js_client: Path
) -> None:
    task_id = redtask.publish(topic, {"input": {"type": "String", "value": "x"}})

    result = run_js(js_client, redtask.engine_rest, "complete", topic=topic)

    [complete] = [x for x in result["trace"] if x["path"].endswith("/complete")]
    assert complete["status"] == 204, _explain(result)
    # the library sends lower-case type names; Camunda (and redtask) store the engine types
    assert complete["request"]["variables"]["outInteger"]["type"] == "integer"
    entry = redtask.finished(task_id)
    assert entry["outcome"] == "complete"
    assert entry["v"] == {
        "outString": {"type": "String", "value": "done ✓", "valueInfo": {}},
        "outInteger": {"type": "Integer", "value": -42, "valueInfo": {}},
        "outLong": {"type": "Long", "value": 9007199254740991, "valueInfo": {}},
        "outDouble": {"type": "Double", "value": 2.5, "valueInfo": {}},
        "outBoolean": {"type": "Boolean", "value": False, "valueInfo": {}},
        "outDate": {"type": "Date", "value": "2024-05-06T07:08:09.010+0000", "valueInfo": {}},
        "outJson": {
            "type": "Json",
            "value": '{"list":[1,"two",null],"nested":{"ok":true}}',
            "valueInfo": {},
        },
        "outNull": {"type": "Null", "value": None, "valueInfo": {}},
        "outBytes": {
            "type": "Bytes",
            "value": base64.b64encode(bytes([0, 1, 2, 253, 254, 255])).decode(),
            "valueInfo": {},
        },
        "outObject": {
            "type": "Object",
            "value": '{"name":"order","amount":12}',
            "valueInfo": OBJECT_INFO,
        },
    }
    assert entry["lv"] == {"outLocal": {"type": "String", "value": "only here", "valueInfo": {}}}
    assert redtask.get(task_id).status_code == 404


def test_handle_failure_hides_the_task_until_the_retry_timeout(
    redtask: Redtask, topic: str, js_client: Path
) -> None:
    retry_timeout = 1500
    task_id = redtask.publish(topic)

    result = run_js(
        js_client,
        redtask.engine_rest,
        "failure",
        topic=topic,
        retries=2,
        retryTimeout=retry_timeout,
        asyncResponseTimeout=500,
    )

    first, second = result["deliveries"]
    assert first["id"] == second["id"] == task_id
    assert (first["retries"], first["errorMessage"]) == (None, None)
    assert second["retries"] == 2
    assert second["errorMessage"] == "temporary outage"
    assert second["errorDetails"] == "stack trace\n  at line 1"
    # the client kept polling and got nothing while the retry timeout ran ...
    # (a poll that found its handler still busy sends no request: no "end", left out)
    waiting = [p for p in second["pollsWhileWaiting"] if "end" in p]
    assert waiting and all(p["tasks"] == 0 for p in waiting), _explain(result)
    # ... and got the task back once it was over, not before
    assert second["at"] - result["failingAt"] >= retry_timeout, _explain(result)
    assert second["at"] - result["failedAt"] <= retry_timeout + 1200, _explain(result)
    # meanwhile the task stayed assigned to the worker, locked until the retry timeout's end
    failed = result["afterFailure"]["body"]
    assert (failed["retries"], failed["workerId"]) == (2, result["workerId"])
    lock = _ms(failed["lockExpirationTime"])
    assert result["failingAt"] + retry_timeout <= lock <= result["failedAt"] + retry_timeout
    assert redtask.finished(task_id)["outcome"] == "complete"


def test_handle_bpmn_error_finishes_the_task(redtask: Redtask, topic: str, js_client: Path) -> None:
    task_id = redtask.publish(topic)

    run_js(
        js_client,
        redtask.engine_rest,
        "bpmn_error",
        topic=topic,
        errorCode="OUT_OF_STOCK",
        errorMessage="no more widgets",
    )

    gone = redtask.get(task_id)
    assert gone.status_code == 404
    assert gone.json() == {
        "type": "RestException",
        "message": f"External task with id {task_id} does not exist",
        "code": None,
    }
    entry = redtask.finished(task_id)
    assert entry["outcome"] == "bpmn_error"
    assert entry["code"] == "OUT_OF_STOCK"
    assert entry["msg"] == "no more widgets"
    assert entry["v"] == {
        "reason": {"type": "String", "value": "out of stock", "valueInfo": {}},
        "missing": {"type": "Integer", "value": 3, "valueInfo": {}},
    }


def test_extend_lock_moves_the_lock_expiration(
    redtask: Redtask, topic: str, js_client: Path
) -> None:
    task_id = redtask.publish(topic)

    result = run_js(
        js_client,
        redtask.engine_rest,
        "extend_lock",
        topic=topic,
        lockDuration=5000,
        newDuration=60000,
    )

    before, after = result["before"], result["after"]
    assert before["status"] == after["status"] == 200
    lock_before = _ms(before["body"]["lockExpirationTime"])
    lock_after = _ms(after["body"]["lockExpirationTime"])
    # newDuration counts from now, not from the old expiry
    assert abs(lock_after - (result["extendedAt"] + 60000)) < 1000, _explain(result)
    assert lock_after - lock_before > 50000
    assert after["body"]["workerId"] == result["workerId"]
    # still locked for that worker after the client went away
    now = redtask.get(task_id).json()
    assert now["lockExpirationTime"] == after["body"]["lockExpirationTime"]
    assert now["workerId"] == result["workerId"]


def test_unlock_makes_the_task_fetchable_again(
    redtask: Redtask, topic: str, js_client: Path
) -> None:
    task_id = redtask.publish(topic)

    result = run_js(js_client, redtask.engine_rest, "unlock", topic=topic)

    unlocked = result["afterUnlock"]
    assert unlocked["status"] == 200
    assert unlocked["body"]["workerId"] is None
    assert unlocked["body"]["lockExpirationTime"] is None
    first, second = result["deliveries"]
    assert first["id"] == second["id"] == task_id
    assert second["workerId"] == result["workerId"]
    assert redtask.finished(task_id)["outcome"] == "complete"


def test_long_polling_delivers_a_task_published_while_waiting(
    redtask: Redtask, topic: str, js_client: Path
) -> None:
    options = {"topic": topic, "workerId": _worker_id(), "asyncResponseTimeout": 5000}
    proc = subprocess.Popen(
        ["node", "scenario.mjs", redtask.engine_rest, "long_poll", json.dumps(options)],
        cwd=js_client,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        first_line = proc.stderr.readline()  # {"event": "poll:start"} once the client polls
        assert '"poll:start"' in first_line, first_line
        time.sleep(1.0)
        published_at = time.time() * 1000
        task_id = redtask.publish(topic, {"n": {"type": "Integer", "value": 1}})
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    result = _parse(stdout, stderr, proc.returncode)

    [delivery] = result["deliveries"]
    assert delivery["id"] == task_id
    # one request, parked for about a second, answered as soon as the task existed
    [poll] = [p for p in result["polls"] if p["start"] <= delivery["at"]]
    assert poll["tasks"] == 1
    assert poll["end"] - poll["start"] >= 900, poll
    assert delivery["at"] - published_at < 1000, _explain(result)
    assert poll["end"] - poll["start"] < 3000
    assert redtask.finished(task_id)["outcome"] == "complete"
