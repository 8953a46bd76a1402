"""DELETE /deployment/{id} (DeploymentRestServiceImpl) with process instances: refused without
cascade (a 400 where Camunda answers 500), allowed once the instances have ended, and with
cascade=true the instances, their external tasks and incidents deleted with the deployment."""

from __future__ import annotations

from typing import Any

import httpx

from tests.gateway.helpers import API, ET, error, fetch_body, topic
from tests.gateway.test_deployment import SIMPLE, deploy


async def deployed(client: httpx.AsyncClient) -> tuple[str, str]:
    body = (await deploy(client, ("simple.bpmn", SIMPLE))).json()
    [definition_id] = body["deployedProcessDefinitions"]
    return body["id"], definition_id


async def start(client: httpx.AsyncClient, definition_id: str) -> str:
    started = await client.post(f"{API}/process-definition/{definition_id}/start", json={})
    assert started.status_code == 200
    instance_id: str = started.json()["id"]
    return instance_id


async def fetch(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    body = fetch_body(topic("charge-card"))
    tasks: list[dict[str, Any]] = (await client.post(f"{ET}/fetchAndLock", json=body)).json()
    return tasks


async def count(client: httpx.AsyncClient, path: str) -> int:
    value: int = (await client.get(f"{API}/{path}/count")).json()["count"]
    return value


async def test_without_cascade_a_running_instance_refuses_the_delete(client):
    deployment_id, definition_id = await deployed(client)
    instance_id = await start(client, definition_id)
    for params in ({}, {"cascade": "false"}, {"cascade": "TRUE"}):  # only "true" cascades
        refused = await client.delete(f"{API}/deployment/{deployment_id}", params=params)
        message = (
            "ENGINE-03076 Deletion of process definition without cascading failed. Process "
            f"definition with id: {definition_id} can't be deleted, since there exists 1 "
            "dependening process instances."
        )
        assert (refused.status_code, refused.json()) == (
            400,
            error("ProcessEngineException", message, 0),
        )
    assert (await client.get(f"{API}/deployment/{deployment_id}")).status_code == 200
    assert (await client.get(f"{API}/process-instance/{instance_id}")).status_code == 200
    [task] = await fetch(client)
    done = await client.post(f"{ET}/{task['id']}/complete", json={"workerId": "w"})
    assert done.status_code == 204
    assert await count(client, "process-instance") == 0


async def test_ended_instances_do_not_refuse_the_delete(client):
    deployment_id, definition_id = await deployed(client)
    instance_id = await start(client, definition_id)
    [task] = await fetch(client)
    await client.post(f"{ET}/{task['id']}/complete", json={"workerId": "w"})
    deleted = await client.delete(f"{API}/deployment/{deployment_id}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert (await client.get(f"{API}/deployment/{deployment_id}")).status_code == 404
    historic = await client.get(f"{API}/history/process-instance/{instance_id}")
    assert historic.json()["state"] == "COMPLETED"


async def test_cascade_deletes_the_instances_their_tasks_and_incidents(client):
    deployment_id, definition_id = await deployed(client)
    first = await start(client, definition_id)
    await start(client, definition_id)
    [task, _] = await fetch(client)
    failure = {"workerId": "w", "errorMessage": "declined", "retries": 0, "retryTimeout": 0}
    assert (await client.post(f"{ET}/{task['id']}/failure", json=failure)).status_code == 204
    assert await count(client, "incident") == 1
    deleted = await client.delete(
        f"{API}/deployment/{deployment_id}",
        params={"cascade": "true", "skipCustomListeners": "true", "skipIoMappings": "true"},
    )
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert (await client.get(f"{API}/deployment/{deployment_id}")).status_code == 404
    assert (await client.get(f"{API}/process-definition/{definition_id}")).status_code == 404
    assert await count(client, "process-instance") == 0
    assert await count(client, "external-task") == 0
    assert await count(client, "incident") == 0
    historic = await client.get(f"{API}/history/process-instance/{first}")
    assert historic.json()["state"] == "EXTERNALLY_TERMINATED"


async def test_a_deployment_without_instances_deletes_without_cascade(client):
    deployment_id, definition_id = await deployed(client)
    deleted = await client.delete(f"{API}/deployment/{deployment_id}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert (await client.get(f"{API}/process-definition/{definition_id}")).status_code == 404
    assert (await client.get(f"{API}/deployment")).json() == []


async def test_an_instance_started_while_its_deployment_is_deleted_is_cancelled(
    client, store, monkeypatch
):
    deployment_id, definition_id = await deployed(client)
    started = store.runtime.start_instance

    async def start_then_lose_the_race(*args: Any, **kwargs: Any) -> Any:
        # the whole delete runs after the start read its model and before it commits
        deleted = await client.delete(f"{API}/deployment/{deployment_id}")
        assert deleted.status_code == 204
        return await started(*args, **kwargs)

    monkeypatch.setattr(store.runtime, "start_instance", start_then_lose_the_race)
    response = await client.post(f"{API}/process-definition/{definition_id}/start", json={})

    assert response.status_code == 500
    assert response.json() == {
        "type": "RestException",
        "message": f"Cannot instantiate process definition {definition_id}: "
        f"No matching definition with id {definition_id}",
        "code": 0,
    }
    assert await count(client, "process-instance") == 0
    assert await count(client, "external-task") == 0
