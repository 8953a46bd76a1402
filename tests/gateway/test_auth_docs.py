"""With auth on, the generated API documentation needs credentials too (unless
``REDTASK_AUTH_OPEN_DOCS`` opens it), and a request carrying two ``Authorization`` headers is
refused with a 400 whatever they hold."""

from __future__ import annotations

import base64

import pytest

from tests.gateway.helpers import API, ET, error, serve

DOCS = ["/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"]
ALICE = "Basic " + base64.b64encode(b"alice:secret").decode()
MALLORY = "Basic " + base64.b64encode(b"mallory:guess").decode()


def secured_settings(settings, **extra):
    return settings.model_copy(update={"auth_enabled": True, "auth_users": "alice:secret", **extra})


@pytest.mark.parametrize("path", DOCS)
async def test_the_docs_need_credentials_when_auth_is_on(settings, store, path):
    async with serve(secured_settings(settings), store) as client:
        anonymous = await client.get(path)
        authenticated = await client.get(path, headers={"Authorization": ALICE})

    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Basic realm="default"'
    assert anonymous.content == b""
    assert authenticated.status_code == 200


@pytest.mark.parametrize("path", DOCS)
async def test_a_setting_opens_the_docs(settings, store, path):
    async with serve(secured_settings(settings, auth_open_docs=True), store) as client:
        response = await client.get(path)
        task_query = await client.get(ET)

    assert response.status_code == 200
    assert task_query.status_code == 401


@pytest.mark.parametrize(
    "values",
    [(ALICE, ALICE), (ALICE, MALLORY), (MALLORY, ALICE), (ALICE, "")],
    ids=["same twice", "valid first", "valid last", "one empty"],
)
@pytest.mark.parametrize("path", [ET, f"{API}/engine", "/openapi.json", "/health/live"])
async def test_two_authorization_headers_are_a_400(settings, store, values, path):
    headers = [("Authorization", value) for value in values]
    async with serve(secured_settings(settings), store) as client:
        response = await client.get(path, headers=headers)

    assert response.status_code == 400
    message = "A request may carry only one Authorization header"
    assert response.json() == error("InvalidRequestException", message, None)


async def test_without_auth_the_docs_are_open(client):
    assert (await client.get("/openapi.json")).status_code == 200
