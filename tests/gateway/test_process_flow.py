"""A process through the REST API: deploy, start by key, fetch and complete its task."""

from __future__ import annotations

from pathlib import Path

import httpx

FILES = Path(__file__).resolve().parents[1] / "broker" / "bpmn" / "files"
REST = "/engine-rest"


async def _deploy(client: httpx.AsyncClient, name: str) -> dict:
    content = (FILES / f"{name}.bpmn").read_bytes()
    response = await client.post(
        f"{REST}/deployment/create",
        data={"deployment-name": name},
        files={"data": (f"{name}.bpmn", content, "application/xml")},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_start_fetch_complete_ends_the_instance(client: httpx.AsyncClient) -> None:
    deployment = await _deploy(client, "simple")
    [definition_id] = deployment["deployedProcessDefinitions"]
    response = await client.post(
        f"{REST}/process-definition/key/order/start",
        json={
            "businessKey": "B-7",
            "variables": {"amount": {"value": 42, "type": "Integer"}},
            "withVariablesInReturn": True,
        },
    )
    assert response.status_code == 200, response.text
    started = response.json()
    assert started["definitionId"] == definition_id and started["definitionKey"] == "order"
    assert (started["businessKey"], started["ended"], started["suspended"]) == ("B-7", False, False)
    assert started["links"] == [
        {
            "method": "GET",
            "href": f"http://test{REST}/process-instance/{started['id']}",
            "rel": "self",
        }
    ]
    assert started["variables"] == {"amount": {"type": "Integer", "value": 42, "valueInfo": {}}}

    fetched = await client.post(
        f"{REST}/external-task/fetchAndLock",
        json={
            "workerId": "w",
            "maxTasks": 5,
            "topics": [{"topicName": "charge-card", "lockDuration": 10000}],
        },
    )
    [task] = fetched.json()
    assert (task["processInstanceId"], task["processDefinitionId"], task["activityId"]) == (
        started["id"],
        definition_id,
        "charge",
    )
    assert (task["processDefinitionKey"], task["businessKey"]) == ("order", "B-7")
    assert task["variables"] == {"amount": {"type": "Integer", "value": 42, "valueInfo": {}}}

    done = await client.post(f"{REST}/external-task/{task['id']}/complete", json={"workerId": "w"})
    assert done.status_code == 204
    gone = await client.get(f"{REST}/process-instance/{started['id']}")
    assert gone.status_code == 404


async def test_start_errors_are_camundas(client: httpx.AsyncClient) -> None:
    missing = await client.post(f"{REST}/process-definition/key/nope/start", json={})
    assert missing.status_code == 404
    assert missing.json() == {
        "type": "RestException",
        "message": "No matching process definition with key: nope and no tenant-id",
        "code": None,
    }
    by_id = await client.post(f"{REST}/process-definition/x:1:y/start", json={})
    assert by_id.status_code == 400 and by_id.json()["message"].startswith(
        "Cannot instantiate process definition x:1:y: no deployed process definition found"
    )
    await _deploy(client, "simple")
    bad = await client.post(
        f"{REST}/process-definition/key/order/start",
        json={"variables": {"v": {"type": "Integer", "value": "many"}}},
    )
    assert bad.status_code == 400 and bad.json()["type"] == "InvalidRequestException"
    assert bad.json()["message"].startswith("Cannot instantiate process definition order:1:")
