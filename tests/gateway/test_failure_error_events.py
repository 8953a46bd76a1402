"""camunda:errorEventDefinition on POST /external-task/{id}/failure (HandleExternalTaskFailureCmd,
ExternalTaskEntity#evaluateThrowBpmnError): the failure's variables are set, then the definitions
are evaluated in document order; the first true one throws its BPMN error (boundary events as
/bpmnError), with no retry or incident bookkeeping. An expression that raises counts as false on a
failure.

The fixture's task ``charge`` has four definitions: FRAUD (raises while errorDetails are null),
CARD_DECLINED (errorDetails contain 'card declined'; caught by ``on_declined``), GIVE_UP
(``${giveUp}``, raises while unset) and LAST_RETRY (``getRetries() == 1``); everything but
CARD_DECLINED is caught by the catch-all ``on_other``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.conftest import FakeClock

API = "/engine-rest"
FIXTURE = Path(__file__).resolve().parent / "bpmn" / "failure_error_events.bpmn"


async def started_instance(client: httpx.AsyncClient) -> str:
    deployed = await client.post(
        f"{API}/deployment/create",
        data={"deployment-name": "failing"},
        files={"data": ("failing.bpmn", FIXTURE.read_bytes(), "application/xml")},
    )
    assert deployed.status_code == 200, deployed.text
    started = await client.post(
        f"{API}/process-definition/key/failing/start",
        json={"variables": {"amount": {"type": "Integer", "value": 3}}},
    )
    assert started.status_code == 200, started.text
    return str(started.json()["id"])


async def fetch(client: httpx.AsyncClient, *topics: str) -> list[dict[str, Any]]:
    response = await client.post(
        f"{API}/external-task/fetchAndLock",
        json={
            "workerId": "w",
            "maxTasks": 10,
            "topics": [{"topicName": t, "lockDuration": 60_000} for t in topics],
        },
    )
    assert response.status_code == 200, response.text
    return list(response.json())


async def fail(client: httpx.AsyncClient, task_id: str, **body: Any) -> None:
    response = await client.post(
        f"{API}/external-task/{task_id}/failure", json={"workerId": "w", **body}
    )
    assert response.status_code == 204, response.text


async def variables(client: httpx.AsyncClient, instance_id: str) -> dict[str, Any]:
    response = await client.get(f"{API}/process-instance/{instance_id}/variables")
    assert response.status_code == 200, response.text
    return {name: v["value"] for name, v in response.json().items()}


async def incidents(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    response = await client.get(f"{API}/incident")
    assert response.status_code == 200, response.text
    return [(i["configuration"], i["incidentMessage"]) for i in response.json()]


async def test_a_failure_whose_error_details_match_throws_to_the_boundary_event(
    client: httpx.AsyncClient,
) -> None:
    pi = await started_instance(client)
    [task] = await fetch(client, "charge")
    await fail(
        client,
        task["id"],
        errorMessage="charge failed",
        errorDetails="gateway says: card declined",
        retries=0,
        retryTimeout=0,
        variables={"attempt": {"type": "Integer", "value": 1}},
    )
    gone = await client.get(f"{API}/external-task/{task['id']}")
    assert gone.status_code == 404, gone.text
    assert [t["activityId"] for t in await fetch(client, "charge", "notify")] == ["notify_declined"]
    assert await variables(client, pi) == {
        "amount": 3,
        "attempt": 1,
        "code": "CARD_DECLINED",
        "msg": "charge failed",
    }
    assert await incidents(client) == []  # retries 0, yet no incident: the error was thrown


async def test_a_failure_that_matches_no_definition_is_retried_after_its_timeout(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await started_instance(client)
    [task] = await fetch(client, "charge")
    await fail(
        client,
        task["id"],
        errorMessage="timed out",
        errorDetails="gateway timeout",
        retries=2,
        retryTimeout=1000,
    )
    assert await fetch(client, "charge", "notify") == []
    clock.advance(1000)
    [again] = await fetch(client, "charge", "notify")
    assert (again["id"], again["activityId"], again["retries"], again["errorMessage"]) == (
        task["id"],
        "charge",
        2,
        "timed out",
    )
    details = await client.get(f"{API}/external-task/{task['id']}/errorDetails")
    assert details.text == "gateway timeout"


async def test_a_failure_that_matches_no_definition_with_no_retries_opens_an_incident(
    client: httpx.AsyncClient,
) -> None:
    pi = await started_instance(client)
    [task] = await fetch(client, "charge")
    await fail(client, task["id"], errorMessage="no luck", errorDetails="nope", retries=0)
    assert await incidents(client) == [(task["id"], "no luck")]
    running = await client.get(f"{API}/process-instance/{pi}")
    assert running.status_code == 200, running.text


async def test_error_event_expressions_that_raise_on_a_failure_count_as_false(
    client: httpx.AsyncClient,
) -> None:
    """No errorDetails: FRAUD's ``null.contains(...)`` raises, and so does GIVE_UP's unset
    ``giveUp``; both are skipped and the failure is handled as usual (here: an incident)."""
    pi = await started_instance(client)
    [task] = await fetch(client, "charge")
    await fail(client, task["id"], errorMessage="crashed", retries=0, retryTimeout=0)
    assert await incidents(client) == [(task["id"], "crashed")]
    stored = await client.get(f"{API}/external-task/{task['id']}")
    assert (stored.json()["retries"], stored.json()["errorMessage"]) == (0, "crashed")
    assert await variables(client, pi) == {"amount": 3}


async def test_the_failure_variables_are_set_before_the_expressions_are_evaluated(
    client: httpx.AsyncClient,
) -> None:
    pi = await started_instance(client)
    [task] = await fetch(client, "charge")
    await fail(
        client,
        task["id"],
        errorMessage="giving up",
        retries=3,
        retryTimeout=0,
        variables={"giveUp": {"type": "Boolean", "value": True}},
    )
    [handler] = await fetch(client, "charge", "notify")
    assert handler["activityId"] == "notify_other"
    assert await variables(client, pi) == {"amount": 3, "giveUp": True, "code": "GIVE_UP"}


async def test_get_retries_shows_the_retries_left_before_this_failure(
    client: httpx.AsyncClient,
) -> None:
    """A fresh process task has retries null: the first failure (retries 1) does not match
    LAST_RETRY; the second one, reported while 1 retry was left, does."""
    await started_instance(client)
    [task] = await fetch(client, "charge")
    await fail(client, task["id"], errorMessage="first", retries=1, retryTimeout=0)
    [again] = await fetch(client, "charge", "notify")
    assert (again["id"], again["retries"]) == (task["id"], 1)
    await fail(client, task["id"], errorMessage="second", retries=0, retryTimeout=0)
    [handler] = await fetch(client, "charge", "notify")
    assert handler["activityId"] == "notify_other"
    assert await incidents(client) == []
