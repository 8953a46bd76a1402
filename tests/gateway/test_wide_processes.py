"""Starting a process over REST with a wide fork or mappings that multiply a variable: bounded
work, and a clear 400 past the limits."""

from __future__ import annotations

import time

import httpx

from tests.broker.engine.test_computed_limits import MB, repeating_inputs
from tests.broker.engine.wide import wide_bpmn

API = "/engine-rest"


async def deploy_wide(client: httpx.AsyncClient, width: int) -> None:
    response = await client.post(
        f"{API}/deployment/create",
        data={"deployment-name": "wide"},
        files={"data": ("wide.bpmn", wide_bpmn(width, tasks=True), "application/xml")},
    )
    assert response.status_code == 200, response.text


async def count(client: httpx.AsyncClient, path: str) -> int:
    response = await client.get(f"{API}/{path}")
    assert response.status_code == 200, response.text
    return int(response.json()["count"])


async def test_a_3000_branch_fork_starts_in_seconds_with_one_task_per_branch(client):
    await deploy_wide(client, 3_000)

    began = time.perf_counter()
    response = await client.post(f"{API}/process-definition/key/wide/start", json={})
    took = time.perf_counter() - began

    assert response.status_code == 200, response.text
    assert await count(client, "external-task/count?topicName=w") == 3_000
    # generous for a loaded 2-core machine (about 1 s when quiet); linearity itself is measured
    # on the engine alone in tests/broker/engine/test_wide.py
    assert took < 15.0


async def test_a_fork_wider_than_the_step_limit_is_refused_with_400_and_stores_nothing(client):
    await deploy_wide(client, 10_000)

    response = await client.post(f"{API}/process-definition/key/wide/start", json={})

    assert response.status_code == 400
    definition_id = (await client.get(f"{API}/process-definition/key/wide")).json()["id"]
    assert response.json() == {
        "type": "RestException",
        "message": f"Cannot instantiate process definition {definition_id}: "
        "More than 10000 elements entered in one step at 'fork'",
        "code": 0,
    }
    assert await count(client, "process-instance/count") == 0
    assert await count(client, "external-task/count") == 0


async def test_input_mappings_multiplying_a_variable_past_the_limit_are_refused_with_400(client):
    response = await client.post(
        f"{API}/deployment/create",
        data={"deployment-name": "copies"},
        files={"data": ("copies.bpmn", repeating_inputs(42), "application/xml")},
    )
    assert response.status_code == 200, response.text
    definition_id = (await client.get(f"{API}/process-definition/key/copies")).json()["id"]

    response = await client.post(
        f"{API}/process-definition/key/copies/start",
        json={"variables": {"big": {"value": "x" * MB, "type": "String"}}},
    )

    assert response.status_code == 400
    body = response.json()
    assert (body["type"], body["code"]) == ("RestException", 0)
    assert body["message"].startswith(
        f"Cannot instantiate process definition {definition_id}: Cannot evaluate the parameter "
        "'copy3' of 't': the mappings of one step computed "
    )
    assert body["message"].endswith("more than the limit of 4194304 (REDTASK_MAX_VARIABLES_BYTES)")
    assert await count(client, "process-instance/count") == 0
    assert await count(client, "external-task/count") == 0
