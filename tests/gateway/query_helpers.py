"""Helpers of the external-task query tests: the keys of an ExternalTaskDto, a fixed set of tasks
in every state, and the ids a query or count answers."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tests.gateway.helpers import ET

FETCH = f"{ET}/fetchAndLock"
TASK_KEYS = {
    "activityId",
    "activityInstanceId",
    "errorMessage",
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
    "priority",
    "businessKey",
}
MISSING = "no-such-task"


@dataclass
class Tasks:
    """a: topic a, prio 10, tenant t1, v="x" n=5, locked by w1 until T+10 s.
    b: topic b, prio 0, no tenant, retries 0 (incident), lock expired.
    c: topic a, prio 5, tenant t2, v="y", never locked.
    d: topic c, prio -1, retries 2, waiting out a 60 s retry timeout (worker w3)."""

    a: str
    b: str
    c: str
    d: str

    def __iter__(self):
        return iter((self.a, self.b, self.c, self.d))


async def ids_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()]


async def get_ids(client: httpx.AsyncClient, **params) -> set[str]:
    return set(await ids_of(await client.get(ET, params=params)))


async def post_ids(client: httpx.AsyncClient, body: dict, **params) -> set[str]:
    return set(await ids_of(await client.post(ET, json=body, params=params)))


async def counts(client: httpx.AsyncClient, params: dict, body: dict) -> tuple[int, int]:
    by_get = await client.get(f"{ET}/count", params=params)
    by_post = await client.post(f"{ET}/count", json=body)
    assert by_get.status_code == by_post.status_code == 200
    return by_get.json()["count"], by_post.json()["count"]


async def retries_of(client: httpx.AsyncClient, *task_ids: str) -> list[int | None]:
    return [(await client.get(f"{ET}/{t}")).json()["retries"] for t in task_ids]
