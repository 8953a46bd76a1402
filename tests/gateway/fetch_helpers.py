"""Helpers of the fetchAndLock tests: the keys of a LockedExternalTaskDto, two typed values, and a
fetch that must answer 200."""

from __future__ import annotations

import httpx

from tests.gateway.helpers import ET

FETCH = f"{ET}/fetchAndLock"
LOCKED_KEYS = {
    "activityId",
    "activityInstanceId",
    "errorMessage",
    "errorDetails",
    "executionId",
    "id",
    "lockExpirationTime",
    "createTime",
    "processDefinitionId",
    "processDefinitionKey",
    "processDefinitionVersionTag",
    "processInstanceId",
    "retries",
    "suspended",
    "workerId",
    "topicName",
    "tenantId",
    "variables",
    "priority",
    "businessKey",
    "extensionProperties",
}
STRING_A = {"type": "String", "value": "x", "valueInfo": {}}
INTEGER_B = {"type": "Integer", "value": 2, "valueInfo": {}}


async def fetch(client: httpx.AsyncClient, body: dict) -> list[dict]:
    response = await client.post(FETCH, json=body)
    assert response.status_code == 200, response.text
    tasks: list[dict] = response.json()
    return tasks


async def fetched_ids(client: httpx.AsyncClient, body: dict) -> list[str]:
    return [t["id"] for t in await fetch(client, body)]
