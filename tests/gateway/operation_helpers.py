"""Helpers of the worker-operation tests: locking a task for a worker, reading it, and the body
each operation needs to succeed, with the message Camunda gives when another worker holds the
lock."""

from __future__ import annotations

import httpx

from tests.gateway.helpers import ET, fetch_body, topic

FETCH = f"{ET}/fetchAndLock"
MISSING = "no-such-task"


async def lock_for(client: httpx.AsyncClient, worker: str = "w", lock: int = 10_000) -> str:
    response = await client.post(FETCH, json=fetch_body(topic("t", lock), worker=worker))
    [task] = response.json()
    return str(task["id"])


async def fetch_ids(client: httpx.AsyncClient, worker: str = "w2") -> list[str]:
    response = await client.post(FETCH, json=fetch_body(topic("t"), worker=worker))
    assert response.status_code == 200
    return [t["id"] for t in response.json()]


async def get(client: httpx.AsyncClient, task_id: str) -> dict:
    response = await client.get(f"{ET}/{task_id}")
    assert response.status_code == 200
    task: dict = response.json()
    return task


def assert_no_content(response: httpx.Response) -> None:
    assert response.status_code == 204
    assert response.content == b""


# The body each operation needs to succeed for worker "w" (unlock has none).
VALID = {
    "complete": {"workerId": "w"},
    "failure": {"workerId": "w", "errorMessage": "boom", "retries": 1, "retryTimeout": 0},
    "bpmnError": {"workerId": "w", "errorCode": "E1"},
    "lock": {"workerId": "w", "lockDuration": 5000},
    "extendLock": {"workerId": "w", "newDuration": 5000},
    "unlock": None,
}
WORKER_OPS = ["complete", "failure", "bpmnError", "lock", "extendLock"]
MISMATCH = {
    "complete": "External Task {id} cannot be completed by worker '{w}'. "
    "It is locked by worker '{cur}'.",
    "failure": "Failure of External Task {id} cannot be reported by worker '{w}'. "
    "It is locked by worker '{cur}'.",
    "bpmnError": "Bpmn error of External Task {id} cannot be reported by worker '{w}'. "
    "It is locked by worker '{cur}'.",
    "extendLock": "The lock of the External Task {id} cannot be extended by worker '{w}''. "
    "It is locked by worker '{cur}'.",
    "lock": "External Task {id} cannot be locked by worker '{w}'. It is locked by worker '{cur}'.",
}


def as_worker(op: str, worker: str | None) -> dict:
    body = dict(VALID[op] or {})
    if worker is None:
        body.pop("workerId")
    else:
        body["workerId"] = worker
    return body
