"""Processes with timer, message and signal start events, built inline, and the REST calls
their tests share."""

from __future__ import annotations

from typing import Any

import httpx

from tests.gateway.constructs_helpers import API

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="starts">'
    '<message id="m1" name="order"/><message id="m2" name="refund"/>'
    '<message id="m3" name="invoice"/><message id="m4" name="payment"/>'
    '<signal id="s1" name="alarm"/>'
)


def timer(kind: str, value: str) -> str:
    """A timerEventDefinition: kind is timeCycle, timeDate or timeDuration."""
    return f"<timerEventDefinition><{kind}>{value}</{kind}></timerEventDefinition>"


MESSAGE = '<messageEventDefinition messageRef="m1"/>'
SIGNAL = '<signalEventDefinition signalRef="s1"/>'


def process(key: str, *starts: tuple[str, str], topic: str | None = None) -> bytes:
    """A process whose start events (id, event definition; "" = none) each lead to an
    external task ``<start id>_task`` on topic ``topic`` (default: the key), then to the end."""
    body = []
    for sid, definition in starts:
        body.append(f'<startEvent id="{sid}">{definition}</startEvent>')
        body.append(f'<sequenceFlow id="{sid}_f1" sourceRef="{sid}" targetRef="{sid}_task"/>')
        body.append(
            f'<serviceTask id="{sid}_task" camunda:type="external" camunda:topic="{topic or key}"/>'
        )
        body.append(f'<sequenceFlow id="{sid}_f2" sourceRef="{sid}_task" targetRef="end"/>')
    xml = f'{HEAD}<process id="{key}" isExecutable="true">{"".join(body)}<endEvent id="end"/>'
    return f"{xml}</process></definitions>".encode()


async def deploy_xml(client: httpx.AsyncClient, name: str, content: bytes) -> httpx.Response:
    return await client.post(
        f"{API}/deployment/create",
        data={"deployment-name": name},
        files={"data": (f"{name}.bpmn", content, "application/xml")},
    )


async def deployed(client: httpx.AsyncClient, name: str, content: bytes) -> str:
    """Deploy; the deployment id."""
    response = await deploy_xml(client, name, content)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def started_instances(client: httpx.AsyncClient, key: str) -> list[dict[str, Any]]:
    """Every instance of ``key`` (running or ended), oldest first."""
    response = await client.get(
        f"{API}/history/process-instance",
        params={"processDefinitionKey": key, "sortBy": "startTime", "sortOrder": "asc"},
    )
    assert response.status_code == 200, response.text
    return list(response.json())


async def activity_ids(client: httpx.AsyncClient, instance_id: str) -> list[str]:
    """The activities the instance went through, in order."""
    response = await client.get(
        f"{API}/history/activity-instance",
        params={"processInstanceId": instance_id, "sortBy": "occurrence", "sortOrder": "asc"},
    )
    assert response.status_code == 200, response.text
    return [a["activityId"] for a in response.json()]
