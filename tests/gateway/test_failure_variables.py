"""POST /external-task/{id}/failure with variables on a process task (HandleExternalTaskFailureCmd):
``variables`` reach the process instance, ``localVariables`` the task's own execution."""

from __future__ import annotations

import httpx
import pytest

from tests.gateway.helpers import API, ET, Publisher, fetch_body, topic

FETCH = f"{ET}/fetchAndLock"
PROCESS_ONLY = "a standalone task has no process instance (test_task_outcomes.py covers it)"
KEPT = {"kept": {"type": "String", "value": "k", "valueInfo": {}}}
ATTEMPT = {"attempt": {"type": "Integer", "value": 2, "valueInfo": {}}}
NOTE = {"note": {"type": "String", "value": "local", "valueInfo": {}}}


async def fetch(client: httpx.AsyncClient, worker: str) -> list[dict]:
    response = await client.post(FETCH, json=fetch_body(topic("t"), worker=worker))
    assert response.status_code == 200
    tasks: list[dict] = response.json()
    return tasks


async def fail(client: httpx.AsyncClient, task_id: str, retries: int) -> None:
    body = {
        "workerId": "w",
        "errorMessage": "boom",
        "retries": retries,
        "retryTimeout": 0,
        "variables": {"attempt": {"type": "Integer", "value": 2}},
        "localVariables": {"note": {"type": "String", "value": "local"}},
    }
    response = await client.post(f"{ET}/{task_id}/failure", json=body)
    assert (response.status_code, response.content) == (204, b"")


async def instance_variables(client: httpx.AsyncClient, instance_id: str) -> dict:
    response = await client.get(f"{API}/process-instance/{instance_id}/variables")
    assert response.status_code == 200
    variables: dict = response.json()
    return variables


@pytest.mark.process_only(PROCESS_ONLY)
async def test_the_next_fetch_and_the_instance_show_the_failures_variables(
    client: httpx.AsyncClient, publish: Publisher
) -> None:
    task_id = await publish("t", variables={"kept": {"type": "String", "value": "k"}})
    instance_id = publish.process_fields(task_id)["processInstanceId"]
    [locked] = await fetch(client, "w")

    await fail(client, locked["id"], retries=1)

    [again] = await fetch(client, "w2")
    assert again["id"] == task_id
    assert again["variables"] == {**KEPT, **ATTEMPT, **NOTE}
    # the local variable stays on the task's execution, below the process instance
    assert await instance_variables(client, instance_id) == {**KEPT, **ATTEMPT}


@pytest.mark.process_only(PROCESS_ONLY)
async def test_a_failure_that_opens_an_incident_still_sets_its_variables(
    client: httpx.AsyncClient, publish: Publisher
) -> None:
    task_id = await publish("t", variables={"kept": {"type": "String", "value": "k"}})
    instance_id = publish.process_fields(task_id)["processInstanceId"]
    await fetch(client, "w")

    await fail(client, task_id, retries=0)

    assert await instance_variables(client, instance_id) == {**KEPT, **ATTEMPT}
    [incident] = (await client.get(f"{API}/incident")).json()
    assert (incident["configuration"], incident["incidentMessage"]) == (task_id, "boom")
    assert await fetch(client, "w2") == []
    response = await client.put(f"{ET}/{task_id}/retries", json={"retries": 1})
    assert response.status_code == 204
    [again] = await fetch(client, "w2")
    assert again["variables"] == {**KEPT, **ATTEMPT, **NOTE}
