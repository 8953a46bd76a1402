"""Reading what an instance went through over REST: its activity instances in the order they
occurred, and its running event subscriptions' effects (open tasks)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.gateway.constructs_helpers import API


async def activities(client: httpx.AsyncClient, instance_id: str) -> list[tuple[str, str, str]]:
    """(activity id, activity type, "done" | "canceled" | "open") of every activity instance
    of the instance, in the order they occurred."""
    response = await client.get(
        f"{API}/history/activity-instance",
        params={"processInstanceId": instance_id, "sortBy": "occurrence", "sortOrder": "asc"},
    )
    assert response.status_code == 200, response.text
    return [(a["activityId"], a["activityType"], _how(a)) for a in response.json()]


def _how(activity: dict[str, Any]) -> str:
    if activity["endTime"] is None:
        return "open"
    return "canceled" if activity["canceled"] else "done"


async def message(client: httpx.AsyncClient, name: str, **extra: Any) -> httpx.Response:
    return await client.post(f"{API}/message", json={"messageName": name, **extra})


async def signal(client: httpx.AsyncClient, name: str, **extra: Any) -> httpx.Response:
    response = await client.post(f"{API}/signal", json={"name": name, **extra})
    return response
