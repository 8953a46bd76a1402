"""The official-style Python client (camunda-external-task-client-python3 4.5, unmodified)
against a real gateway.

Handlers run through the library's own worker flow (``ExternalTaskWorker.fetch_and_execute``:
fetch, build ``ExternalTask``, run the action, send its ``TaskResult``) or through
``ExternalTaskClient``'s request methods. The library (4.5) has no extend-lock and no unlock
call, so those two tests lock with the library and extend/unlock over plain REST, then
check that the library keeps working with the task.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from datetime import datetime
from typing import Any

import pytest
from camunda.client.external_task_client import ExternalTaskClient
from camunda.external_task.external_task import ExternalTask, TaskResult
from camunda.external_task.external_task_worker import ExternalTaskWorker, NoExternalTaskFound

from tests.clients.conftest import Redtask
from tests.clients.typed import OBJECT_INFO, PUBLISHED, RAW_BYTES, wire

BIG_LONG = {"type": "Long", "value": 9223372036854775807}


def _worker_id() -> str:
    return f"py-{uuid.uuid4().hex[:8]}"


def _config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "maxTasks": 1,
        "lockDuration": 10000,
        "asyncResponseTimeout": 1000,
        "sleepSeconds": 0,
    }
    config.update(overrides)
    return config


def _worker(engine_rest: str, **config: Any) -> ExternalTaskWorker:
    return ExternalTaskWorker(_worker_id(), engine_rest, _config(**config))


def _client(engine_rest: str, **config: Any) -> ExternalTaskClient:
    return ExternalTaskClient(_worker_id(), engine_rest, _config(**config))


def _ms(camunda_date: str) -> int:
    return int(datetime.strptime(camunda_date, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)


def _typed(value: Any) -> tuple[str, Any]:
    return type(value).__name__, value


def test_handler_receives_every_typed_variable(redtask: Redtask, topic: str) -> None:
    variables = {**PUBLISHED, "aBigLong": BIG_LONG}
    task_id = redtask.publish(topic, variables)
    seen: dict[str, Any] = {}

    def action(task: ExternalTask) -> TaskResult:
        seen["id"] = task.get_task_id()
        seen["values"] = task.get_variables()
        seen["typed"] = {name: task.get_variable(name, with_meta=True) for name in variables}
        return task.complete()

    _worker(redtask.engine_rest).fetch_and_execute(topic, action)

    assert seen["id"] == task_id
    # the library hands out the raw JSON values: dates, Json and Bytes stay strings; it asks
    # for deserializeValues=true, so a JSON Object arrives parsed, as Camunda's Jackson writes it
    assert {name: _typed(v) for name, v in seen["values"].items()} == {
        "aString": ("str", 'héllo "world" ✓'),
        "anInteger": ("int", 2147483647),
        "aLong": ("int", 9007199254740991),
        "aBigLong": ("int", 9223372036854775807),
        "aDouble": ("float", -3.25),
        "aWholeDouble": ("float", 4.0),
        "aBoolean": ("bool", True),
        "aDate": ("str", "2024-02-29T23:59:58.123+0000"),
        "aJson": ("str", '{"items":[1,2.5,"x",null],"ok":true}'),
        "anObject": ("dict", {"name": "order", "amount": 12}),
        "someBytes": ("str", base64.b64encode(RAW_BYTES).decode()),
        "nothing": ("NoneType", None),
    }
    assert base64.b64decode(seen["values"]["someBytes"]) == RAW_BYTES
    # with_meta=True gives the typed value exactly as Camunda sends it
    assert seen["typed"] == wire(variables) | {
        "anObject": {
            "type": "Object",
            "value": {"name": "order", "amount": 12},
            "valueInfo": OBJECT_INFO,
        }
    }
    assert seen["typed"]["anObject"]["valueInfo"] == OBJECT_INFO
    assert redtask.finished(task_id)["outcome"] == "complete"


def test_date_variables_are_rendered_in_the_servers_time_zone(redtask: Redtask, topic: str) -> None:
    """Camunda stores a Date as an instant and renders it in the server's zone (UTC here);
    the Python client passes that string to the handler unchanged."""
    task_id = redtask.publish(
        topic, {"due": {"type": "Date", "value": "2024-03-01T10:00:00.000+0200"}}
    )
    seen: dict[str, Any] = {}

    def action(task: ExternalTask) -> TaskResult:
        seen["due"] = task.get_variable("due")
        return task.complete()

    _worker(redtask.engine_rest).fetch_and_execute(topic, action)

    assert redtask.finished(task_id)["outcome"] == "complete"
    assert seen["due"] == "2024-03-01T08:00:00.000+0000"


def test_complete_records_exactly_the_typed_variables_sent(redtask: Redtask, topic: str) -> None:
    task_id = redtask.publish(topic, {"input": {"type": "String", "value": "x"}})
    typed_out = {
        "outString": {"type": "String", "value": "done ✓"},
        "outInteger": {"type": "Integer", "value": -42},
        "outLong": {"type": "Long", "value": 9223372036854775807},
        "outDouble": {"type": "Double", "value": 2.5},
        "outBoolean": {"type": "Boolean", "value": False},
        "outDate": {"type": "Date", "value": "2024-05-06T07:08:09.010+0000"},
        "outJson": {"type": "Json", "value": '{"list":[1,"two",null]}'},
        "outObject": {
            "type": "Object",
            "value": '{"name":"order","amount":12}',
            "valueInfo": OBJECT_INFO,
        },
        "outBytes": {"type": "Bytes", "value": base64.b64encode(b"\x00\xffraw").decode()},
        "outNull": {"type": "Null", "value": None},
    }
    # plain values are sent untyped ({"value": v}); the engine picks the type
    untyped_out = {"plainInt": 7, "plainBig": 2**40, "plainStr": "s", "plainBool": True}
    untyped_out |= {"plainFloat": 1.5, "plainNone": None}

    def action(task: ExternalTask) -> TaskResult:
        return task.complete(
            {**typed_out, **untyped_out}, {"outLocal": {"type": "String", "value": "here"}}
        )

    _worker(redtask.engine_rest).fetch_and_execute(topic, action)

    entry = redtask.finished(task_id)
    assert entry["outcome"] == "complete"
    assert entry["v"] == {
        **wire(typed_out),
        "plainInt": {"type": "Integer", "value": 7, "valueInfo": {}},
        "plainBig": {"type": "Long", "value": 2**40, "valueInfo": {}},
        "plainStr": {"type": "String", "value": "s", "valueInfo": {}},
        "plainBool": {"type": "Boolean", "value": True, "valueInfo": {}},
        "plainFloat": {"type": "Double", "value": 1.5, "valueInfo": {}},
        "plainNone": {"type": "Null", "value": None, "valueInfo": {}},
    }
    assert entry["lv"] == {"outLocal": {"type": "String", "value": "here", "valueInfo": {}}}
    assert redtask.get(task_id).status_code == 404


def test_handle_failure_hides_the_task_until_the_retry_timeout(
    redtask: Redtask, topic: str
) -> None:
    retry_timeout = 1500
    task_id = redtask.publish(topic)
    worker = _worker(redtask.engine_rest, asyncResponseTimeout=300)
    deliveries: list[float] = []
    marks: dict[str, float] = {}

    def action(task: ExternalTask) -> TaskResult:
        deliveries.append(time.time())
        if len(deliveries) == 1:
            marks["failing"] = time.time()
            return task.failure("temporary outage", "stack trace\n  at line 1", 3, retry_timeout)
        # the library derives the new retries from the delivered ones (3 - 1)
        return task.failure("still down", None, 3, 60000)

    worker.fetch_and_execute(topic, action)
    failed_at = time.time()
    after_failure = redtask.get(task_id).json()
    empty_polls = []
    while len(deliveries) < 2 and time.time() < failed_at + 10:
        started = time.time()
        try:
            worker.fetch_and_execute(topic, action)
        except NoExternalTaskFound:
            empty_polls.append((started, time.time()))

    assert after_failure["retries"] == 3
    assert after_failure["errorMessage"] == "temporary outage"
    assert after_failure["workerId"] == worker.worker_id
    lock = _ms(after_failure["lockExpirationTime"]) / 1000
    assert marks["failing"] + retry_timeout / 1000 - 0.002 <= lock
    assert lock <= failed_at + retry_timeout / 1000 + 0.002
    assert len(deliveries) == 2, "the task did not come back after the retry timeout"
    assert empty_polls and all(end < deliveries[1] for _, end in empty_polls)
    assert deliveries[1] - marks["failing"] >= retry_timeout / 1000 - 0.002
    assert deliveries[1] - failed_at <= retry_timeout / 1000 + 1.2
    again = redtask.get(task_id).json()
    assert (again["retries"], again["errorMessage"]) == (2, "still down")
    # a failure without errorDetails keeps the earlier details
    details = redtask.get_error_details(task_id)
    assert (details.status_code, details.text) == (200, "stack trace\n  at line 1")


def test_handle_bpmn_error_finishes_the_task(redtask: Redtask, topic: str) -> None:
    task_id = redtask.publish(topic)

    def action(task: ExternalTask) -> TaskResult:
        variables = {"reason": "out of stock", "missing": {"type": "Long", "value": 3}}
        return task.bpmn_error("OUT_OF_STOCK", "no more widgets", variables)

    _worker(redtask.engine_rest).fetch_and_execute(topic, action)

    gone = redtask.get(task_id)
    assert gone.status_code == 404
    assert gone.json() == {
        "type": "RestException",
        "message": f"External task with id {task_id} does not exist",
        "code": None,
    }
    entry = redtask.finished(task_id)
    assert (entry["outcome"], entry["code"], entry["msg"]) == (
        "bpmn_error",
        "OUT_OF_STOCK",
        "no more widgets",
    )
    assert entry["v"] == {
        "reason": {"type": "String", "value": "out of stock", "valueInfo": {}},
        "missing": {"type": "Long", "value": 3, "valueInfo": {}},
    }


def test_extend_lock_keeps_the_task_with_the_python_client(redtask: Redtask, topic: str) -> None:
    """The library has no extend-lock call: lock with it, extend over REST, complete with it."""
    task_id = redtask.publish(topic)
    client = _client(redtask.engine_rest, lockDuration=5000)
    [task] = client.fetch_and_lock(topic)
    assert task["id"] == task_id
    before = redtask.get(task_id).json()

    extended_at = time.time()
    response = redtask.post(
        f"/external-task/{task_id}/extendLock",
        {"workerId": client.worker_id, "newDuration": 60000},
    )

    assert response.status_code == 204, response.text
    after = redtask.get(task_id).json()
    assert before["lockExpirationTime"] == task["lockExpirationTime"]
    lock_after = _ms(after["lockExpirationTime"])
    assert abs(lock_after - (extended_at * 1000 + 60000)) < 1000
    assert lock_after - _ms(before["lockExpirationTime"]) > 50000
    assert after["workerId"] == client.worker_id
    assert client.complete(task_id, {"done": True}) is True
    assert redtask.finished(task_id)["v"] == {
        "done": {"type": "Boolean", "value": True, "valueInfo": {}}
    }


def test_unlock_makes_the_task_fetchable_for_the_python_client(
    redtask: Redtask, topic: str
) -> None:
    """The library has no unlock call: lock with it, unlock over REST, fetch again with it."""
    task_id = redtask.publish(topic)
    client = _client(redtask.engine_rest)
    [task] = client.fetch_and_lock(topic)
    assert task["id"] == task_id

    response = redtask.post(f"/external-task/{task_id}/unlock")

    assert response.status_code == 204, response.text
    unlocked = redtask.get(task_id).json()
    assert (unlocked["workerId"], unlocked["lockExpirationTime"]) == (None, None)
    [again] = client.fetch_and_lock(topic)
    assert again["id"] == task_id
    assert again["workerId"] == client.worker_id
    assert client.complete(task_id, {}) is True
    assert redtask.finished(task_id)["outcome"] == "complete"


def test_long_polling_delivers_a_task_published_while_waiting(redtask: Redtask, topic: str) -> None:
    client = _client(redtask.engine_rest, asyncResponseTimeout=5000)
    poll: dict[str, Any] = {}

    def fetch() -> None:
        poll["start"] = time.time()
        try:
            poll["tasks"] = client.fetch_and_lock(topic)
        except Exception as exc:  # reported below, in the test's thread
            poll["error"] = exc
        poll["end"] = time.time()

    thread = threading.Thread(target=fetch)
    thread.start()
    time.sleep(1.0)
    published_at = time.time()
    task_id = redtask.publish(topic, {"n": {"type": "Integer", "value": 1}})
    thread.join(15)

    assert not thread.is_alive()
    if "error" in poll:
        pytest.fail(f"fetch_and_lock failed: {poll['error']}")
    [task] = poll["tasks"]
    assert task["id"] == task_id
    assert task["variables"] == {"n": {"type": "Integer", "value": 1, "valueInfo": {}}}
    assert poll["end"] - poll["start"] >= 0.9  # it was parked until the task existed
    assert poll["end"] - published_at < 1.0  # answered at once, well before the 5 s timeout
    assert client.complete(task_id, {}) is True
