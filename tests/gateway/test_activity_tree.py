"""The runtime activity tree (GET /process-instance/{id}/activity-instances, ActivityInstanceDto)
and a definition's activity statistics (GET /process-definition/{id}/statistics,
ActivityStatisticsResultDto)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from redtask.broker.store import Store
from tests.conftest import FakeClock
from tests.gateway.helpers import API, error
from tests.gateway.history_helpers import complete, deploy_shipping, start_shipping, task_of


def node(
    pi: str,
    definition: str,
    id: str,
    parent: str | None,
    activity: str,
    kind: str,
    name: str | None,
    executions: list[str],
    children: list[dict[str, Any]] = (),  # type: ignore[assignment]
    incidents: list[str] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    return {
        "id": id,
        "parentActivityInstanceId": parent,
        "activityId": activity,
        "activityType": kind,
        "processInstanceId": pi,
        "processDefinitionId": definition,
        "childActivityInstances": list(children),
        "childTransitionInstances": [],
        "executionIds": executions,
        "activityName": name,
        "incidentIds": list(incidents),
        "incidents": [{"id": i, "parentActivityInstanceId": id} for i in incidents],
        "name": name,
    }


@pytest.fixture
async def runs(client: httpx.AsyncClient, store: Store, clock: FakeClock) -> dict[str, Any]:
    """a waits in the sub-process's pack task; b's charge has an incident; c is charging."""
    definition = await deploy_shipping(client)
    a = await start_shipping(client)
    await complete(client, await task_of(store, "charge", a))
    b = await start_shipping(client)
    charge = await task_of(store, "charge", b)
    failure = {"workerId": "w", "errorMessage": "broken", "retries": 0, "retryTimeout": 0}
    response = await client.post(f"{API}/external-task/{charge}/failure", json=failure)
    assert response.status_code == 204
    c = await start_shipping(client)
    [incident] = (await client.get(f"{API}/incident", params={"processInstanceId": b})).json()
    return {"definition": definition, "a": a, "b": b, "c": c, "incident": incident["id"]}


async def historic(client: httpx.AsyncClient, pi: str, activity: str) -> dict[str, Any]:
    params = {"processInstanceId": pi, "activityId": activity}
    [found] = (await client.get(f"{API}/history/activity-instance", params=params)).json()
    return dict(found)


async def test_the_tree_of_a_token_in_a_sub_process(
    client: httpx.AsyncClient, runs: dict[str, Any]
) -> None:
    a, definition = runs["a"], runs["definition"]
    ship, pack = await historic(client, a, "ship"), await historic(client, a, "pack")
    response = await client.get(f"{API}/process-instance/{a}/activity-instances")
    assert response.status_code == 200
    assert response.json() == node(
        a,
        definition,
        a,
        None,
        definition,
        "processDefinition",
        "Shipping",
        [a],
        [
            node(
                a,
                definition,
                ship["id"],
                a,
                "ship",
                "subProcess",
                "Ship",
                [ship["executionId"]],
                [
                    node(
                        a,
                        definition,
                        pack["id"],
                        ship["id"],
                        "pack",
                        "serviceTask",
                        "Pack",
                        [pack["executionId"]],
                    )
                ],
            )
        ],
    )


async def test_an_incident_hangs_on_its_activity_instance(
    client: httpx.AsyncClient, runs: dict[str, Any]
) -> None:
    b, definition = runs["b"], runs["definition"]
    charge = await historic(client, b, "charge")
    tree = (await client.get(f"{API}/process-instance/{b}/activity-instances")).json()
    assert tree["childActivityInstances"] == [
        node(
            b,
            definition,
            charge["id"],
            b,
            "charge",
            "serviceTask",
            "Charge",
            [charge["executionId"]],
            incidents=[runs["incident"]],
        )
    ]


async def test_an_ended_or_unknown_instance_has_no_tree(
    client: httpx.AsyncClient, runs: dict[str, Any]
) -> None:
    c = runs["c"]
    assert (await client.delete(f"{API}/process-instance/{c}")).status_code == 204
    for pi in (c, "nope"):
        response = await client.get(f"{API}/process-instance/{pi}/activity-instances")
        assert (response.status_code, response.json()) == (
            404,
            error("InvalidRequestException", f"Process instance with id {pi} does not exist"),
        )


def stats(activity: str, instances: int, incidents: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {"id": activity, "instances": instances, "failedJobs": 0, "incidents": list(incidents)}


async def test_statistics_per_activity(client: httpx.AsyncClient, runs: dict[str, Any]) -> None:
    url = f"{API}/process-definition/{runs['definition']}/statistics"
    failed = [{"incidentType": "failedExternalTask", "incidentCount": 1}]
    plain = [stats("charge", 2), stats("pack", 1), stats("ship", 1)]
    for params in ({}, {"failedJobs": "true"}, {"incidents": "false"}):
        response = await client.get(url, params=params)
        assert (response.status_code, response.json()) == (200, plain)
    with_incidents = [stats("charge", 2, failed), stats("pack", 1), stats("ship", 1)]
    for params in ({"incidents": "TRUE"}, {"incidentsForType": "failedExternalTask"}):
        assert (await client.get(url, params=params)).json() == with_incidents
    assert (await client.get(url, params={"incidentsForType": "failedJob"})).json() == plain
    response = await client.get(url, params={"incidents": "false", "incidentsForType": "x"})
    assert (response.status_code, response.json()) == (
        400,
        error(
            "InvalidRequestException",
            "Only one of the query parameter includeIncidents or includeIncidentsForType "
            "can be set.",
        ),
    )
    assert (await client.get(f"{API}/process-definition/nope/statistics")).json() == []
