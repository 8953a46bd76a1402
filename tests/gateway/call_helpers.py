"""Call activity tests through the REST API: deploying inline models and reading instance trees."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from tests.gateway.constructs_helpers import API

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="defs" targetNamespace="http://redtask.test/calls">"""


def process(key: str, body: str, extra: str = "", tag: str | None = None) -> bytes:
    """A resource with one process; ``extra`` goes before it (errors, messages)."""
    version_tag = f' camunda:versionTag="{tag}"' if tag else ""
    return (
        f'{HEADER}{extra}<bpmn:process id="{key}" isExecutable="true"{version_tag}>'
        f"{body}</bpmn:process></bpmn:definitions>"
    ).encode()


def chain(*ids: str) -> str:
    """Flows through the given element ids, in order (f_<source>_<target>)."""
    return "".join(
        f'<bpmn:sequenceFlow id="f_{a}_{b}" sourceRef="{a}" targetRef="{b}" />'
        for a, b in itertools.pairwise(ids)
    )


def task(eid: str, topic: str) -> str:
    return f'<bpmn:serviceTask id="{eid}" camunda:type="external" camunda:topic="{topic}" />'


def one_task(key: str, topic: str, tag: str | None = None) -> bytes:
    """start -> an external task on ``topic`` -> end."""
    body = '<bpmn:startEvent id="s" />' + task("t", topic) + '<bpmn:endEvent id="e" />'
    return process(key, body + chain("s", "t", "e"), tag=tag)


async def deploy_xml(
    client: httpx.AsyncClient, *resources: bytes, name: str = "calls", tenant: str | None = None
) -> dict[str, Any]:
    """Deploy resources in one deployment; returns the deployment."""
    files = [("data", (f"r{i}.bpmn", r, "application/xml")) for i, r in enumerate(resources)]
    form = {"deployment-name": name, **({"tenant-id": tenant} if tenant else {})}
    response = await client.post(f"{API}/deployment/create", data=form, files=files)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def instances(client: httpx.AsyncClient, **params: str) -> list[str]:
    response = await client.get(f"{API}/process-instance", params=params)
    assert response.status_code == 200, response.text
    return sorted(i["id"] for i in response.json())


async def child_of(client: httpx.AsyncClient, instance_id: str) -> str:
    """The one sub-process instance of an instance."""
    [child] = await instances(client, superProcessInstance=instance_id)
    return child


async def activities(client: httpx.AsyncClient, instance_id: str) -> list[str]:
    """The instance's historic activity instances in order: ``id`` or ``id!`` when canceled,
    ``id…`` while it runs."""
    response = await client.get(
        f"{API}/history/activity-instance",
        params={"processInstanceId": instance_id, "sortBy": "occurrence", "sortOrder": "asc"},
    )
    assert response.status_code == 200, response.text
    out = []
    for a in response.json():
        mark = "!" if a["canceled"] else ("" if a["endTime"] else "…")
        out.append(a["activityId"] + mark)
    return out


async def history_state(client: httpx.AsyncClient, instance_id: str) -> str:
    response = await client.get(f"{API}/history/process-instance/{instance_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["state"])
