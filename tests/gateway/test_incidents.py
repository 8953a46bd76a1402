"""Incidents (IncidentDto; ExternalTaskEntity#setRetriesAndManageIncidents): GET /incident,
/incident/count and /incident/{id}, with the field values of external-task incidents, filters,
sorting and paging."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from redtask.broker.bpmn import ProcessModel, parse_bpmn
from redtask.broker.model import NewTask, TopicRequest
from redtask.broker.store import Store
from tests.conftest import FakeClock
from tests.gateway.helpers import API, START, error

INC = f"{API}/incident"
FILES = Path(__file__).parents[1] / "broker" / "bpmn" / "files"
ORDER = "order:1:test"


def _model(name: str) -> ProcessModel:
    [parsed] = parse_bpmn((FILES / f"{name}.bpmn").read_bytes(), f"{name}.bpmn")
    return parsed


@dataclass
class Incidents:
    """p: of an ``order`` instance's task (message "card declined", at START);
    s: of a standalone task of tenant t1 (no message, at START + 1 s)."""

    p: dict[str, Any]
    s: dict[str, Any]
    instance_id: str
    process_task: Any


@pytest.fixture
async def incidents(store: Store, clock: FakeClock, app: FastAPI) -> Incidents:
    # the model is served after the app's start, which installs the deployed definitions
    order = _model("simple")

    async def lookup(definition_id: str) -> ProcessModel:
        return order

    store.models = lookup
    state, _ = await store.start_instance(order, ORDER)
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("charge-card", 10_000)])
    await store.handle_failure(task.id, "w", "card declined", "details", 0, 0)
    clock.advance(1000)
    standalone = await store.publish(NewTask("mail", tenant_id="t1", retries=1))
    await store.lock(standalone, "w", 10_000)
    await store.handle_failure(standalone, "w", None, None, 0, 0)
    p_id, s_id = (i.id for i in await store.incidents())
    p = {
        "id": p_id,
        "processDefinitionId": ORDER,
        "processInstanceId": state.instance_id,
        "executionId": task.execution_id,
        "incidentTimestamp": START,
        "incidentType": "failedExternalTask",
        "activityId": "charge",
        "failedActivityId": None,
        "causeIncidentId": p_id,
        "rootCauseIncidentId": p_id,
        "configuration": task.id,
        "tenantId": None,
        "incidentMessage": "card declined",
        "jobDefinitionId": None,
        "annotation": None,
    }
    s = {
        **p,
        "id": s_id,
        "processDefinitionId": None,
        "processInstanceId": None,
        "executionId": None,
        "incidentTimestamp": "2023-11-14T22:13:21.000+0000",
        "activityId": None,
        "causeIncidentId": s_id,
        "rootCauseIncidentId": s_id,
        "configuration": standalone,
        "tenantId": "t1",
        "incidentMessage": None,
    }
    return Incidents(p, s, state.instance_id, task)


def by_id(*items: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda i: i["id"])  # Camunda's default order


async def test_list_count_and_get_on_both_prefixes(
    client: httpx.AsyncClient, incidents: Incidents
) -> None:
    expected = by_id(incidents.p, incidents.s)
    for base in (INC, f"{API}/engine/default/incident"):
        response = await client.get(base)
        assert (response.status_code, response.json()) == (200, expected)
        assert (await client.get(f"{base}/count")).json() == {"count": 2}
        response = await client.get(f"{base}/{incidents.p['id']}")
        assert (response.status_code, response.json()) == (200, incidents.p)


async def test_get_unknown(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{INC}/nope")
    expected = error("InvalidRequestException", "No matching incident with id nope")
    assert (response.status_code, response.json()) == (404, expected)


async def test_no_incidents(client: httpx.AsyncClient) -> None:
    assert (await client.get(INC)).json() == []
    assert (await client.get(f"{INC}/count")).json() == {"count": 0}


def _filters(i: Incidents) -> list[tuple[dict[str, str], str]]:
    p, s = i.p, i.s
    return [
        ({"incidentId": p["id"]}, "p"),
        ({"incidentType": "failedExternalTask"}, "ps"),
        ({"incidentType": "failedJob"}, ""),
        ({"incidentMessage": "card declined"}, "p"),
        ({"incidentMessageLike": "%declined"}, "p"),
        ({"processInstanceId": i.instance_id}, "p"),
        ({"executionId": p["executionId"]}, "p"),
        ({"activityId": "charge"}, "p"),
        ({"configuration": s["configuration"]}, "s"),
        ({"tenantIdIn": "t1,t2"}, "s"),
        ({"tenantIdIn": ""}, ""),  # Java splits "" into [""]: no tenant matches
        ({"processDefinitionId": ORDER}, "p"),
        ({"processDefinitionKeyIn": "order,other"}, "p"),
        ({"causeIncidentId": s["id"]}, "s"),
        ({"rootCauseIncidentId": p["id"]}, "p"),
        ({"rootCauseIncidentId": p["id"], "incidentId": s["id"]}, ""),
        ({"failedActivityId": "charge"}, ""),
        ({"jobDefinitionIdIn": "j1"}, ""),
        ({"incidentTimestampAfter": START}, "s"),
        ({"incidentTimestampBefore": "2023-11-14T22:13:21.000+0000"}, "p"),
        ({"incidentTimestampAfter": "2023-11-14T23:13:19.999+01:00"}, "ps"),
        ({"unknownParameter": "x"}, "ps"),
    ]


async def test_filters(client: httpx.AsyncClient, incidents: Incidents) -> None:
    for params, names in _filters(incidents):
        expected = by_id(*(getattr(incidents, n) for n in names))
        response = await client.get(INC, params=params)
        assert (response.status_code, response.json()) == (200, expected), params
        count = (await client.get(f"{INC}/count", params=params)).json()
        assert count == {"count": len(names)}, params


async def test_sorting_and_paging(client: httpx.AsyncClient, incidents: Incidents) -> None:
    p, s = incidents.p, incidents.s
    cases = [
        ({"sortBy": "incidentTimestamp", "sortOrder": "desc"}, [s, p]),
        ({"sortBy": "incidentTimestamp", "sortOrder": "asc"}, [p, s]),
        ({"sortBy": "incidentMessage", "sortOrder": "desc"}, [p, s]),  # nulls last
        ({"sortBy": "tenantId", "sortOrder": "asc"}, [s, p]),
        ({"sortBy": "incidentType", "sortOrder": "desc"}, by_id(p, s)),  # ties: by id
        (
            {"sortBy": "incidentTimestamp", "sortOrder": "desc", "firstResult": 1},
            [p],
        ),
        ({"sortBy": "incidentTimestamp", "sortOrder": "asc", "maxResults": 1}, [p]),
        ({"firstResult": 0, "maxResults": 0}, []),
    ]
    for params, expected in cases:
        assert (await client.get(INC, params=params)).json() == expected, params
    for field in ("incidentId", "causeIncidentId", "rootCauseIncidentId", "configuration"):
        for order in ("asc", "desc"):
            response = await client.get(INC, params={"sortBy": field, "sortOrder": order})
            key = "configuration" if field == "configuration" else "id"
            expected = sorted([p, s], key=lambda i: i[key], reverse=order == "desc")
            assert response.json() == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"sortBy": "priority", "sortOrder": "asc"},
            "Cannot set query parameter 'sortBy' to value 'priority'",
        ),
        (
            {"sortBy": "incidentId", "sortOrder": "sideways"},
            "Cannot set query parameter 'sortOrder' to value 'sideways'",
        ),
        (
            {"sortOrder": "asc"},
            "Only a single sorting parameter specified. sortBy and sortOrder required",
        ),
        ({"maxResults": "many"}, "Cannot set query parameter 'maxResults' to value 'many'"),
        (
            {"incidentTimestampAfter": "yesterday"},
            "Cannot set query parameter 'incidentTimestampAfter' to value 'yesterday'",
        ),
    ],
)
async def test_query_errors(client: httpx.AsyncClient, params, message) -> None:
    response = await client.get(INC, params=params)
    assert (response.status_code, response.json()) == (
        400,
        error("InvalidRequestException", message),
    )


async def test_count_errors(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{INC}/count", params={"incidentTimestampBefore": "soon"})
    message = "Cannot set query parameter 'incidentTimestampBefore' to value 'soon'"
    assert (response.status_code, response.json()) == (
        400,
        error("InvalidRequestException", message),
    )


async def test_resolved_and_deleted_incidents_disappear(
    client: httpx.AsyncClient, store: Store, incidents: Incidents
) -> None:
    await store.set_retries(incidents.s["configuration"], 1)  # resolves
    assert (await client.get(INC)).json() == [incidents.p]
    assert (await client.get(f"{INC}/{incidents.s['id']}")).status_code == 404
    response = await client.delete(f"{API}/process-instance/{incidents.instance_id}")
    assert response.status_code == 204  # deletes the instance's incidents
    assert (await client.get(INC)).json() == []
    assert (await client.get(f"{INC}/count")).json() == {"count": 0}


async def test_a_new_drop_to_zero_opens_a_new_incident(
    client: httpx.AsyncClient, store: Store, incidents: Incidents
) -> None:
    task_id = incidents.s["configuration"]
    await store.set_retries(task_id, 1)
    await store.set_retries(task_id, 0)
    [again] = (await client.get(INC, params={"configuration": task_id})).json()
    assert again["id"] != incidents.s["id"]
    assert again["causeIncidentId"] == again["rootCauseIncidentId"] == again["id"]
