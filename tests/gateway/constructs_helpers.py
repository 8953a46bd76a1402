"""Running BPMN constructs through the REST API only: deploy a fixture, start it, let a worker loop
fetch and act on its external tasks, and read how the instance ended."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from redtask.broker.scheduler import Scheduler
from redtask.broker.store import Store
from tests.conftest import FakeClock

FILES = Path(__file__).resolve().parents[1] / "broker" / "bpmn" / "files"
OWN_FILES = Path(__file__).resolve().parent / "bpmn"
API = "/engine-rest"
HOUR = 3_600_000


# what a worker does with a fetched task: ("complete", variables, local variables),
# ("error", code, message, variables) or ("leave",) to keep it locked
Action = tuple[Any, ...]


def typed(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"type": "Boolean", "value": value}
    if isinstance(value, int):
        return {"type": "Integer", "value": value}
    if isinstance(value, str):
        return {"type": "String", "value": value}
    if value is None:
        return {"type": "Null", "value": None}
    return {"type": "Json", "value": json.dumps(value)}


def typed_map(values: dict[str, Any] | None) -> dict[str, Any]:
    return {name: typed(value) for name, value in (values or {}).items()}


def plain(variables: dict[str, Any]) -> dict[str, Any]:
    """Typed REST variables -> plain values (Json parsed)."""
    out = {}
    for name, variable in variables.items():
        value = variable["value"]
        out[name] = json.loads(value) if variable["type"] == "Json" else value
    return out


async def deploy(client: httpx.AsyncClient, name: str, own: bool = False) -> None:
    content = ((OWN_FILES if own else FILES) / f"{name}.bpmn").read_bytes()
    response = await client.post(
        f"{API}/deployment/create",
        data={"deployment-name": name},
        files={"data": (f"{name}.bpmn", content, "application/xml")},
    )
    assert response.status_code == 200, response.text


async def start(
    client: httpx.AsyncClient, key: str, variables: dict[str, Any] | None = None, **extra: Any
) -> str:
    response = await client.post(
        f"{API}/process-definition/key/{key}/start",
        json={"variables": typed_map(variables), **extra},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def fetch(client: httpx.AsyncClient, topics: Sequence[str]) -> list[dict[str, Any]]:
    response = await client.post(
        f"{API}/external-task/fetchAndLock",
        json={
            "workerId": "w",
            "maxTasks": 50,
            "topics": [{"topicName": t, "lockDuration": 600_000} for t in topics],
        },
    )
    assert response.status_code == 200, response.text
    return list(response.json())


async def fetch_each(client: httpx.AsyncClient, topics: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Fetch and lock; the tasks by activity id (the order of one fetch is not defined)."""
    return {t["activityId"]: t for t in await fetch(client, topics)}


async def act(client: httpx.AsyncClient, task: dict[str, Any], action: Action) -> None:
    url = f"{API}/external-task/{task['id']}"
    if action[0] == "complete":
        _, variables, local = action
        body = {"workerId": "w", "variables": typed_map(variables)}
        if local:
            body["localVariables"] = typed_map(local)
        response = await client.post(f"{url}/complete", json=body)
    elif action[0] == "error":
        _, code, message, variables = action
        response = await client.post(
            f"{url}/bpmnError",
            json={
                "workerId": "w",
                "errorCode": code,
                "errorMessage": message,
                "variables": typed_map(variables),
            },
        )
    else:
        return
    assert response.status_code == 204, response.text


def completing(**per_activity: dict[str, Any]) -> Callable[[dict[str, Any]], Action]:
    return lambda task: ("complete", per_activity.get(task["activityId"], {}), None)


async def work(
    client: httpx.AsyncClient,
    topics: Sequence[str],
    handle: Callable[[dict[str, Any]], Action] | None = None,
    order: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
    seen: list[dict[str, Any]] | None = None,
) -> list[str]:
    """Fetch and handle tasks until none is left; the activity ids of the fetched tasks."""
    handle = handle or completing()
    activities: list[str] = []
    for _ in range(20):
        tasks = await fetch(client, topics)
        if not tasks:
            return activities
        tasks.sort(key=lambda t: t["activityId"])
        for task in order(tasks) if order else tasks:
            activities.append(task["activityId"])
            if seen is not None:
                seen.append(task)
            await act(client, task, handle(task))
    raise AssertionError("the worker never ran out of tasks")


async def variables(client: httpx.AsyncClient, instance_id: str) -> dict[str, Any]:
    response = await client.get(f"{API}/process-instance/{instance_id}/variables")
    assert response.status_code == 200, response.text
    return plain(response.json())


async def assert_ended(client: httpx.AsyncClient, instance_id: str, state: str) -> None:
    gone = await client.get(f"{API}/process-instance/{instance_id}")
    assert gone.status_code == 404, gone.text
    history = await client.get(f"{API}/history/process-instance/{instance_id}")
    assert history.status_code == 200, history.text
    assert history.json()["state"] == state


async def assert_active(client: httpx.AsyncClient, instance_id: str) -> None:
    running = await client.get(f"{API}/process-instance/{instance_id}")
    assert running.status_code == 200, running.text
    history = await client.get(f"{API}/history/process-instance/{instance_id}")
    assert history.json()["state"] == "ACTIVE"


async def open_tasks(client: httpx.AsyncClient, instance_id: str) -> list[str]:
    """The activity ids of the instance's external tasks, locked or not."""
    response = await client.get(f"{API}/external-task", params={"processInstanceId": instance_id})
    assert response.status_code == 200, response.text
    return sorted(t["activityId"] for t in response.json())


async def assert_gone(client: httpx.AsyncClient, task: dict[str, Any]) -> None:
    """The task no longer exists: reading it is a 404, and so is completing it."""
    got = await client.get(f"{API}/external-task/{task['id']}")
    assert got.status_code == 404, got.text
    url = f"{API}/external-task/{task['id']}/complete"
    completed = await client.post(url, json={"workerId": "w"})
    assert completed.status_code == 404, completed.text


async def fire_timers(store: Store, clock: FakeClock, ms: int) -> None:
    clock.advance(ms)
    scheduler = Scheduler(store, "t")
    while await scheduler.run_once():
        pass
