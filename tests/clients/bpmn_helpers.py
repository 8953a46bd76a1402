"""Helpers of the BPMN compatibility tests (tests/clients/test_bpmn_*.py): deploying a model,
starting an instance and reading its state and executions, and fetching its tasks, through the
REST API of a real gateway; Camunda's error body."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.clients.conftest import Redtask

MODELS = Path(__file__).parent / "bpmn"


def _deploy(redtask: Redtask, name: str, xml: bytes) -> httpx.Response:
    return httpx.post(
        f"{redtask.engine_rest}/deployment/create",
        data={"deployment-name": name},
        files={"model": (f"{name}.bpmn", xml, "application/xml")},
    )


def _definition(redtask: Redtask, name: str, xml: bytes) -> dict[str, Any]:
    response = _deploy(redtask, name, xml)
    assert response.status_code == 200, response.text
    [definition] = response.json()["deployedProcessDefinitions"].values()
    result: dict[str, Any] = definition
    return result


def _start(redtask: Redtask, definition_id: str, variables: dict[str, Any] | None = None) -> str:
    response = redtask.post(
        f"/process-definition/{definition_id}/start", {"variables": variables or {}}
    )
    assert response.status_code == 200, response.text
    instance_id: str = response.json()["id"]
    return instance_id


def _state(redtask: Redtask, instance_id: str) -> str:
    response = httpx.get(f"{redtask.engine_rest}/history/process-instance/{instance_id}")
    assert response.status_code == 200, response.text
    state: str = response.json()["state"]
    return state


def _executions(redtask: Redtask, instance_id: str, activity_id: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{redtask.engine_rest}/execution",
        params={"processInstanceId": instance_id, "activityId": activity_id},
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def _is_uuid(value: str) -> bool:
    return str(uuid.UUID(value)) == value


def _fetch(redtask: Redtask, topic: str, **extra: Any) -> list[dict[str, Any]]:
    body = {
        "workerId": "w",
        "maxTasks": 5,
        "topics": [{"topicName": topic, "lockDuration": 10000, **extra}],
    }
    response = redtask.post("/external-task/fetchAndLock", body)
    assert response.status_code == 200, response.text
    tasks: list[dict[str, Any]] = response.json()
    return tasks


def _error(type_: str, message: str, code: int | None) -> dict[str, Any]:
    return {"type": type_, "message": message, "code": code}
