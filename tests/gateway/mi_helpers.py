"""Multi-instance processes over REST: deploy one built by ``tests.broker.engine.loop_models``,
read its historic activity instances in the order they occurred, and its runtime tree."""

from __future__ import annotations

from typing import Any

import httpx

from tests.broker.engine.loop_models import mi_xml
from tests.gateway.constructs_helpers import API

BODY = "work#multiInstanceBody"


async def deploy_xml(client: httpx.AsyncClient, xml: bytes, name: str = "mi") -> str:
    response = await client.post(
        f"{API}/deployment/create",
        data={"deployment-name": name},
        files={"data": (f"{name}.bpmn", xml, "application/xml")},
    )
    assert response.status_code == 200, response.text
    [definition_id] = response.json()["deployedProcessDefinitions"]
    return str(definition_id)


async def deploy_mi(client: httpx.AsyncClient, loop_xml: str, **options: Any) -> str:
    return await deploy_xml(client, mi_xml(loop_xml, **options))


async def activities(client: httpx.AsyncClient, instance_id: str) -> list[dict[str, Any]]:
    """The instance's historic activity instances, in the order they occurred."""
    response = await client.get(
        f"{API}/history/activity-instance",
        params={"processInstanceId": instance_id, "sortBy": "occurrence", "sortOrder": "asc"},
    )
    assert response.status_code == 200, response.text
    return list(response.json())


def shape(found: list[dict[str, Any]]) -> list[tuple[str, str, str, bool, bool]]:
    """(activity id, parent's activity id or "process", "ended"/"running", canceled,
    completeScope) of each activity instance."""
    by_id = {a["id"]: a["activityId"] for a in found}
    return [
        (
            a["activityId"],
            by_id.get(a["parentActivityInstanceId"], "process"),
            "running" if a["endTime"] is None else "ended",
            a["canceled"],
            a["completeScope"],
        )
        for a in found
    ]


def body_of(found: list[dict[str, Any]], activity_id: str = BODY) -> dict[str, Any]:
    [body] = [a for a in found if a["activityId"] == activity_id]
    assert body["activityType"] == "multiInstanceBody" and body["activityName"] is None
    return body


async def tree(client: httpx.AsyncClient, instance_id: str) -> list[tuple[str, str, int]]:
    """The runtime activity tree below the process: (activity id, type, children count)."""
    response = await client.get(f"{API}/process-instance/{instance_id}/activity-instances")
    assert response.status_code == 200, response.text
    out = []
    todo = list(response.json()["childActivityInstances"])
    while todo:
        node = todo.pop(0)
        out.append((node["activityId"], node["activityType"], len(node["childActivityInstances"])))
        todo += node["childActivityInstances"]
    return out
