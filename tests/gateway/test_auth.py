"""HTTP Basic authentication (ProcessEngineAuthenticationFilter, HttpBasicAuthenticationProvider):
401 with an empty body and ``WWW-Authenticate: Basic realm="default"`` on any failure; only GET
/engine is anonymous."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest

from redtask.broker.model import NewTask
from tests.gateway.helpers import API, ET, error, fetch_body, serve, topic

USERS = "alice:secret,bob:pa:ss"


def basic(credentials: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


ALICE = basic("alice:secret")


@pytest.fixture
async def secured(settings, store) -> AsyncIterator[httpx.AsyncClient]:
    secured_settings = settings.model_copy(update={"auth_enabled": True, "auth_users": USERS})
    async with serve(secured_settings, store) as client:
        yield client


def assert_challenged(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="default"'
    assert response.content == b""


BAD_HEADERS = {
    "no-header": {},
    "wrong-password": basic("alice:wrong"),
    "unknown-user": basic("mallory:secret"),
    "malformed-base64": {"Authorization": "Basic !!!not-base64!!!"},
    "no-colon": basic("alicesecret"),
    "empty-credentials": {"Authorization": "Basic "},
    "wrong-scheme": {"Authorization": "Bearer " + base64.b64encode(b"alice:secret").decode()},
    "lower-case-scheme": {"Authorization": "basic " + base64.b64encode(b"alice:secret").decode()},
    "password-prefix": basic("alice:secre"),
}


@pytest.mark.parametrize("headers", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
async def test_missing_or_bad_credentials_are_challenged_with_an_empty_401(secured, headers):
    assert_challenged(await secured.get(ET, headers=headers))


@pytest.mark.parametrize("headers", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
async def test_a_rejected_fetch_locks_nothing(secured, store, headers):
    await store.publish(NewTask("t"))

    assert_challenged(
        await secured.post(f"{ET}/fetchAndLock", json=fetch_body(topic("t")), headers=headers)
    )
    assert (await secured.get(f"{ET}/count", headers=ALICE)).json() == {"count": 1}
    assert (await secured.get(f"{ET}/count", params={"locked": "true"}, headers=ALICE)).json() == {
        "count": 0
    }


async def test_right_credentials_are_let_through(secured, store):
    task_id = await store.publish(NewTask("t"))

    listed = await secured.get(ET, headers=ALICE)
    fetched = await secured.post(f"{ET}/fetchAndLock", json=fetch_body(topic("t")), headers=ALICE)
    completed = await secured.post(
        f"{ET}/{task_id}/complete", json={"workerId": "w"}, headers=ALICE
    )

    assert listed.status_code == 200 and [t["id"] for t in listed.json()] == [task_id]
    assert fetched.status_code == 200 and len(fetched.json()) == 1
    assert completed.status_code == 204


async def test_the_password_is_everything_after_the_first_colon(secured):
    response = await secured.get(f"{API}/version", headers=basic("bob:pa:ss"))

    assert (response.status_code, response.json()) == (200, {"version": "7.24.0"})
    assert_challenged(await secured.get(f"{API}/version", headers=basic("bob:pa")))


async def test_get_engine_is_anonymous(secured):
    response = await secured.get(f"{API}/engine")

    assert (response.status_code, response.json()) == (200, [{"name": "default"}])


@pytest.mark.parametrize(
    "path",
    [
        f"{API}/version",
        f"{API}/engine/default/version",
        f"{API}/engine/default/external-task",
        f"{API}/external-task/count",
        f"{API}/external-task/topic-names",
        "/redtask/topics",
    ],
)
async def test_everything_else_requires_credentials(secured, path):
    assert_challenged(await secured.get(path))
    assert (await secured.get(path, headers=ALICE)).status_code == 200


@pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
async def test_the_health_probes_stay_open(secured, path):
    response = await secured.get(path)

    assert response.status_code == 200
    assert response.json()["status"] == "UP"


async def test_an_unknown_engine_is_404_before_authentication(secured):
    anonymous = await secured.get(f"{API}/engine/other/external-task")
    authenticated = await secured.get(f"{API}/engine/other/external-task", headers=ALICE)

    for response in (anonymous, authenticated):
        assert response.status_code == 404
        assert response.json() == error(
            "InvalidRequestException", "Process engine other not available"
        )


async def test_an_async_retries_batch_records_the_authenticated_user(secured, store):
    task_id = await store.publish(NewTask("t"))

    response = await secured.post(
        f"{ET}/retries-async", json={"retries": 1, "externalTaskIds": [task_id]}, headers=ALICE
    )

    assert response.status_code == 200
    assert response.json()["createUserId"] == "alice"


async def test_without_auth_enabled_no_credentials_are_needed(client):
    assert (await client.get(f"{API}/version")).status_code == 200
    assert (await client.get(ET, headers=basic("nobody:nothing"))).status_code == 200
