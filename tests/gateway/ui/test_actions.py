"""The dashboard's actions and its protection: retrying incidents (one, or the checked ones)
goes through the store's set-retries as ``PUT /external-task/retries`` does; cancelling an
instance as ``DELETE /process-instance/{id}``; a POST from another origin, or with no origin at
all, is refused and changes nothing; with auth on, every dashboard path asks for credentials
as the REST API does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from redtask.broker.model import NewTask
from redtask.broker.store import Store
from tests.conftest import FakeClock
from tests.gateway.constructs_helpers import API, deploy, fire_timers, start
from tests.gateway.helpers import ET, fetch_body, serve, topic
from tests.gateway.test_auth import ALICE, USERS, assert_challenged
from tests.gateway.ui.helpers import UI, Scene, build

SAME = {"Origin": "http://test"}


@pytest.fixture
async def scene(store: Store, app: object) -> Scene:
    return await build(store)


async def incident_tasks(store: Store, count: int, topic_name: str = "fix") -> list[str]:
    ids = await store.publish_many([NewTask(topic_name) for _ in range(count)])
    for task_id in ids:
        await store.lock(task_id, "w", 10_000)
        await store.handle_failure(task_id, "w", "broken", "details", 0, 0)
    return ids


async def test_retrying_one_incident_makes_its_task_fetchable_over_rest(
    client: httpx.AsyncClient, scene: Scene, store: Store
) -> None:
    response = await client.post(
        f"{UI}/incidents/retry", data={"only": scene.failed, "retries": "2"}, headers=SAME
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"{UI}/incidents?retried=1"
    fetched = await client.post(f"{ET}/fetchAndLock", json=fetch_body(topic("mail")))
    assert sorted((t["id"], t["retries"]) for t in fetched.json()) == sorted(
        [(scene.failed, 2), (scene.available, None)]
    )
    assert await store.incidents() == []
    page = (await client.get(response.headers["location"])).text
    assert '<p class="notice" id="notice">Retries set on 1 task.</p>' in page
    assert '<span id="incident-total">0</span>' in page


async def test_retrying_the_checked_incidents_leaves_the_others(
    client: httpx.AsyncClient, store: Store
) -> None:
    ids = await incident_tasks(store, 3)

    response = await client.post(
        f"{UI}/incidents/retry", data={"task": ids[:2], "retries": "1"}, headers=SAME
    )

    assert (response.status_code, response.headers["location"]) == (
        303,
        f"{UI}/incidents?retried=2",
    )
    fetched = await client.post(f"{ET}/fetchAndLock", json=fetch_body(topic("fix")))
    assert sorted(t["id"] for t in fetched.json()) == sorted(ids[:2])
    assert [i.configuration for i in await store.incidents()] == [ids[2]]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://test.evil.example"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/page"},
        {"Origin": "http://evil.example", "Referer": "http://test/redtask/ui/incidents"},
        {},
    ],
    ids=["foreign-origin", "suffix-host", "null-origin", "foreign-referer", "origin-wins", "none"],
)
async def test_a_cross_origin_retry_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, store: Store, headers: dict[str, str]
) -> None:
    [task_id] = await incident_tasks(store, 1)

    response = await client.post(
        f"{UI}/incidents/retry", data={"only": task_id, "retries": "1"}, headers=headers
    )

    assert response.status_code == 403
    assert "cross-origin" in response.text
    assert (await store.get(task_id)).retries == 0
    assert [i.configuration for i in await store.incidents()] == [task_id]


async def test_a_same_origin_referer_is_enough_without_an_origin(
    client: httpx.AsyncClient, store: Store
) -> None:
    [task_id] = await incident_tasks(store, 1)

    response = await client.post(
        f"{UI}/incidents/retry",
        data={"only": task_id},
        headers={"Referer": f"http://test{UI}/incidents"},
    )

    assert response.status_code == 303
    assert (await store.get(task_id)).retries == 1


@pytest.mark.parametrize("retries", ["-1", "x", "\uff11", "2147483648", ""])
async def test_bad_retries_are_refused(
    client: httpx.AsyncClient, store: Store, retries: str
) -> None:
    [task_id] = await incident_tasks(store, 1)

    response = await client.post(
        f"{UI}/incidents/retry", data={"only": task_id, "retries": retries}, headers=SAME
    )

    assert response.status_code == 400
    assert (await store.get(task_id)).retries == 0


async def test_retrying_nothing_or_an_unknown_task_is_refused(
    client: httpx.AsyncClient, store: Store
) -> None:
    [task_id] = await incident_tasks(store, 1)

    nothing = await client.post(f"{UI}/incidents/retry", data={"retries": "1"}, headers=SAME)
    unknown = await client.post(
        f"{UI}/incidents/retry", data={"task": [task_id, "gone"]}, headers=SAME
    )

    assert nothing.status_code == 400 and "No incident was chosen." in nothing.text
    assert unknown.status_code == 404 and "No external task with id gone" in unknown.text
    assert (await store.get(task_id)).retries == 0  # every id is checked before any write


async def test_cancelling_an_instance_ends_it_and_a_cross_origin_cancel_is_refused(
    client: httpx.AsyncClient, scene: Scene, store: Store
) -> None:
    first, second = scene.orders

    refused = await client.post(
        f"{UI}/instances/{first}/cancel", headers={"Origin": "http://evil.example"}
    )
    done = await client.post(f"{UI}/instances/{first}/cancel", headers=SAME)
    again = await client.post(f"{UI}/instances/{first}/cancel", headers=SAME)

    assert refused.status_code == 403
    assert (done.status_code, done.headers["location"]) == (303, f"{UI}/instances/{first}")
    assert again.status_code == 404
    record = await store.get_historic_instance(first)
    assert record is not None and record.state == "EXTERNALLY_TERMINATED"
    [running] = await store.query_instances()
    assert running.id == second
    page = (await client.get(f"{UI}/instances/{first}")).text
    assert '<dd id="instance-state">EXTERNALLY_TERMINATED</dd>' in page
    assert 'id="cancel"' not in page


@pytest.fixture
async def secured(settings, store) -> AsyncIterator[httpx.AsyncClient]:
    secured_settings = settings.model_copy(update={"auth_enabled": True, "auth_users": USERS})
    async with serve(secured_settings, store) as client:
        yield client


PAGES = [
    UI,
    f"{UI}/topics",
    f"{UI}/api/topics",
    f"{UI}/tasks",
    f"{UI}/incidents",
    f"{UI}/processes",
    f"{UI}/workers",
    f"{UI}/static/dashboard.css",
    f"{UI}/static/dashboard.js",
]


@pytest.mark.parametrize("path", PAGES)
async def test_with_auth_on_the_dashboard_needs_credentials(
    secured: httpx.AsyncClient, path: str
) -> None:
    assert_challenged(await secured.get(path))
    assert (await secured.get(path, headers=ALICE)).status_code in (200, 307)


async def test_with_auth_on_an_action_without_credentials_is_challenged(
    secured: httpx.AsyncClient, store: Store
) -> None:
    [task_id] = await incident_tasks(store, 1)

    anonymous = await secured.post(f"{UI}/incidents/retry", data={"only": task_id}, headers=SAME)
    assert_challenged(anonymous)
    assert (await store.get(task_id)).retries == 0
    allowed = await secured.post(
        f"{UI}/incidents/retry", data={"only": task_id}, headers={**SAME, **ALICE}
    )
    assert allowed.status_code == 303
    assert (await store.get(task_id)).retries == 1


async def test_with_auth_on_the_root_page_stays_open_and_holds_only_links(
    secured: httpx.AsyncClient,
) -> None:
    response = await secured.get("/")

    assert response.status_code == 200
    assert f'href="{UI}"' in response.text


async def test_with_auth_off_the_dashboard_answers_without_credentials(
    client: httpx.AsyncClient,
) -> None:
    for path in PAGES[1:]:
        assert (await client.get(path)).status_code == 200, path


async def test_retrying_a_failed_timer_job_from_the_page_fires_its_timer(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deploy(client, "timer_then_choice", own=True)
    instance = await start(client, "timer_choice", {"go": False})  # no flow: the step fails
    await fire_timers(store, clock, 60_000)
    assert await store.incidents() == []  # failed once: two retries left
    state, _ = await store.instance_state(instance)
    [timer] = state.timers
    parked = await client.put(f"{API}/job/{timer.id}/retries", json={"retries": 0})
    assert parked.status_code == 204, parked.text
    [incident] = await store.incidents()
    assert (incident.incident_type, incident.configuration) == ("failedJob", timer.id)
    page = (await client.get(f"{UI}/incidents")).text
    assert f"timer job {incident.configuration}" in page
    changed = await client.post(
        f"{API}/process-instance/{instance}/variables",
        json={"modifications": {"go": {"type": "Boolean", "value": True}}},
    )
    assert changed.status_code == 204, changed.text

    response = await client.post(
        f"{UI}/incidents/retry", data={"only": incident.configuration}, headers=SAME
    )

    assert (response.status_code, response.headers["location"]) == (
        303,
        f"{UI}/incidents?retried=1",
    )
    assert await store.incidents() == []
    await fire_timers(store, clock, 1)
    fetched = await client.post(f"{ET}/fetchAndLock", json=fetch_body(topic("send")))
    assert [t["processInstanceId"] for t in fetched.json()] == [instance]
