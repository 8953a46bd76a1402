"""Helpers for worker tests: running a worker in the test's loop, waiting for a condition,
and a small process per test (its own key and topics)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from worker import Worker


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    """Run ``worker`` for the duration of the block, then stop it and wait for it."""
    job = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(job, 30)


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 10.0, interval: float = 0.02
) -> Any:
    """Await ``check()`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"condition not met within {timeout}s"
        await asyncio.sleep(interval)


def process_xml(key: str, topic: str, error_code: str = "FAILED") -> str:
    """start → work(topic) → next(topic-next) → end, and an error boundary on ``work``
    (``error_code``) leading to caught(topic-caught)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:error id="err" errorCode="{error_code}" />
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:serviceTask id="work" camunda:type="external" camunda:topic="{topic}" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="next" />
    <bpmn:serviceTask id="next" camunda:type="external" camunda:topic="{topic}-next" />
    <bpmn:sequenceFlow id="f3" sourceRef="next" targetRef="end" />
    <bpmn:endEvent id="end" />
    <bpmn:boundaryEvent id="on_error" attachedToRef="work">
      <bpmn:errorEventDefinition errorRef="err" />
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f4" sourceRef="on_error" targetRef="caught" />
    <bpmn:serviceTask id="caught" camunda:type="external" camunda:topic="{topic}-caught" />
    <bpmn:sequenceFlow id="f5" sourceRef="caught" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""


class Engine:
    """The gateway's REST API, for setting up processes and reading their state."""

    def __init__(self, api: str) -> None:
        self.api = api
        self.http = httpx.AsyncClient(base_url=api, timeout=10)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def deploy_process(self, topic: str, error_code: str = "FAILED") -> str:
        key = f"p{uuid.uuid4().hex[:10]}"
        response = await self.http.post(
            "/deployment/create",
            data={"deployment-name": key},
            files={"data": (f"{key}.bpmn", process_xml(key, topic, error_code), "text/xml")},
        )
        assert response.status_code == 200, response.text
        return key

    async def start(self, key: str, variables: dict[str, Any] | None = None) -> str:
        typed = {name: value for name, value in (variables or {}).items()}
        response = await self.http.post(
            f"/process-definition/key/{key}/start", json={"variables": typed}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    async def waiting_at(self, instance_id: str) -> list[str]:
        """The activity ids of the instance's external tasks."""
        response = await self.http.get("/external-task", params={"processInstanceId": instance_id})
        assert response.status_code == 200, response.text
        return sorted(t["activityId"] for t in response.json())

    async def reaches(self, instance_id: str, activities: list[str], timeout: float = 10) -> None:
        """Wait until the instance's external tasks are exactly at ``activities``."""

        async def there() -> bool:
            return await self.waiting_at(instance_id) == activities

        await eventually(there, timeout)

    async def variables(self, instance_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/process-instance/{instance_id}/variables")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def task_of(self, instance_id: str, activity_id: str) -> dict[str, Any]:
        response = await self.http.get(
            "/external-task",
            params={"processInstanceId": instance_id, "activityId": activity_id},
        )
        assert response.status_code == 200, response.text
        [task] = response.json()
        return dict(task)

    async def incidents(self, instance_id: str) -> list[dict[str, Any]]:
        response = await self.http.get("/incident", params={"processInstanceId": instance_id})
        assert response.status_code == 200, response.text
        return list(response.json())
