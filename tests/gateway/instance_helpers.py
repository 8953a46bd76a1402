"""Helpers of the process-instance tests: models served in place of deployments, starting an
instance of one, and the ProcessInstanceDto the gateway answers for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redtask.broker.bpmn import ProcessModel, parse_bpmn
from redtask.broker.store import Store
from tests.gateway.helpers import API

PI = f"{API}/process-instance"
FILES = Path(__file__).parents[1] / "broker" / "bpmn" / "files"
MISSING = "no-such-instance"


def _model(name: str) -> ProcessModel:
    [parsed] = parse_bpmn((FILES / f"{name}.bpmn").read_bytes(), f"{name}.bpmn")
    return parsed


MODELS = {f"{m.key}:1:test": m for m in map(_model, ("simple", "parallel_gateway", "messages"))}
MODELS["reminders:1:test"] = _model("boundary_timer")


async def start(
    store: Store,
    definition_id: str = "order:1:test",
    variables: dict[str, Any] | None = None,
    business_key: str | None = None,
    tenant_id: str | None = None,
) -> str:
    state, _ = await store.start_instance(
        MODELS[definition_id], definition_id, variables, business_key, tenant_id
    )
    return state.instance_id


def dto(id: str, definition_id: str, business_key: str | None, tenant_id: str | None = None):
    return {
        "links": [],
        "id": id,
        "definitionId": definition_id,
        "definitionKey": definition_id.split(":")[0],
        "businessKey": business_key,
        "caseInstanceId": None,
        "ended": False,
        "suspended": False,
        "tenantId": tenant_id,
    }


def by_id(*items: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda i: i["id"])  # Camunda's default order
