"""GET and POST /process-instance (+ /count): the filters of Camunda's ProcessInstanceQueryDto
not covered by test_process_instance_queries.py, one test per filter, on deployed definitions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.gateway.helpers import API, error
from tests.gateway.test_history_filters import deploy, one_task_process

PI = f"{API}/process-instance"


async def start(client: httpx.AsyncClient, definition_id: str) -> str:
    response = await client.post(f"{API}/process-definition/{definition_id}/start", json={})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def deployment_of(client: httpx.AsyncClient, definition_id: str) -> str:
    response = await client.get(f"{API}/process-definition/{definition_id}")
    return str(response.json()["deploymentId"])


@pytest.fixture
async def two_deployments(client: httpx.AsyncClient) -> dict[str, Any]:
    """v1 and v2 of ``orders`` (one deployment each) and ``refunds`` (tenant t1, a third
    deployment): a is an instance of v1, b of v2, c of refunds."""
    v1 = await deploy(client, one_task_process("orders", "Orders", "s1", "charge"))
    v2 = await deploy(client, one_task_process("orders", "Orders", "s2", "charge"))
    refunds = await deploy(client, one_task_process("refunds", "Refunds", "s", "r"), "t1")
    return {
        "d1": await deployment_of(client, v1),
        "d2": await deployment_of(client, v2),
        "a": await start(client, v1),
        "b": await start(client, v2),
        "c": await start(client, refunds),
    }


async def test_deployment_id_selects_the_instances_of_its_definitions(
    client: httpx.AsyncClient, two_deployments: dict[str, Any]
) -> None:
    d1, a, b = two_deployments["d1"], two_deployments["a"], two_deployments["b"]
    response = await client.get(PI, params={"deploymentId": d1})
    assert [i["id"] for i in response.json()] == [a]
    response = await client.post(PI, json={"deploymentId": two_deployments["d2"]})
    assert [i["id"] for i in response.json()] == [b]
    count = await client.get(f"{PI}/count", params={"deploymentId": d1})
    assert count.json() == {"count": 1}
    count = await client.post(f"{PI}/count", json={"deploymentId": "unknown"})
    assert count.json() == {"count": 0}


async def test_process_definition_without_tenant_id(
    client: httpx.AsyncClient, two_deployments: dict[str, Any]
) -> None:
    response = await client.get(PI, params={"processDefinitionWithoutTenantId": "true"})
    expected = sorted([two_deployments["a"], two_deployments["b"]])
    assert [i["id"] for i in response.json()] == expected


async def test_or_queries_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(PI, json={"orQueries": [{"businessKey": "x"}]})
    expected = error(
        "InvalidRequestException",
        "redtask does not support the process instance filter 'orQueries'",
    )
    assert (response.status_code, response.json()) == (400, expected)
