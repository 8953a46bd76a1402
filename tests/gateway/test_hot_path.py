"""The hot path (gateway/hot.py): fetchAndLock and complete answered without FastAPI's routing,
byte for byte as the full application answers them; anything unusual handed to the full stack."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from redtask.broker.errors import TaskNotFound
from redtask.broker.model import NewTask
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from redtask.gateway.app import create_app
from tests.gateway.helpers import API, ET, fetch_body, started, topic

ALICE = {"Authorization": "Basic " + base64.b64encode(b"alice:secret").decode()}


def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def full(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """The same gateway with its hot path off: every request through FastAPI."""
    application = create_app(settings, store=store)
    application.hot = None  # type: ignore[attr-defined]
    async with started(application, store), client_of(application) as client:
        yield client


@pytest.fixture
async def routerless(settings: Settings, store: Store) -> AsyncIterator[FastAPI]:
    """A gateway whose FastAPI routes are gone: only the hot path can answer 2xx."""
    application = create_app(settings.model_copy(update={"gateway_max_body_bytes": 4096}), store)
    async with started(application, store):
        application.router.routes.clear()
        yield application


def sample(app: FastAPI, name: str, labels: dict[str, str]) -> float | None:
    return app.state.metrics.registry.get_sample_value(name, labels)  # type: ignore[no-any-return]


@pytest.mark.parametrize("prefix", [API, f"{API}/engine/default"])
async def test_the_hot_routes_answer_without_the_router(routerless, store, prefix):
    task_id = await store.publish(NewTask("hot", variables={"n": {"type": "Integer", "value": 7}}))
    async with client_of(routerless) as client:
        fetched = await client.post(
            f"{prefix}/external-task/fetchAndLock", json=fetch_body(topic("hot"))
        )
        assert fetched.status_code == 200
        [task] = fetched.json()
        assert (task["id"], task["workerId"], task["variables"]) == (
            task_id,
            "w",
            {"n": {"type": "Integer", "value": 7, "valueInfo": {}}},
        )
        done = await client.post(
            f"{prefix}/external-task/{task_id}/complete", json={"workerId": "w"}
        )
        assert (done.status_code, done.content, dict(done.headers)) == (204, b"", {})
        # anything else goes to the (now empty) router
        assert (await client.post(f"{prefix}/external-task/{task_id}/unlock")).status_code == 404
        assert (
            await client.post(f"{prefix}/external-task/fetchAndLock", json=[])
        ).status_code == 404
    with pytest.raises(TaskNotFound):
        await store.get(task_id)
    fetch_route = f"{prefix}/external-task/fetchAndLock"
    complete_route = f"{prefix}/external-task/{{id}}/complete"
    requests = "redtask_http_requests_total"
    assert (
        sample(routerless, requests, {"route": fetch_route, "method": "POST", "status": "200"}) == 1
    )
    assert (
        sample(routerless, requests, {"route": complete_route, "method": "POST", "status": "204"})
        == 1
    )
    count = sample(
        routerless,
        "redtask_http_request_duration_seconds_count",
        {"route": complete_route, "method": "POST"},
    )
    assert count == 1


# requests that change nothing: answered identically with and without the hot path
FETCH = f"{ET}/fetchAndLock"
JSON = {"Content-Type": "application/json"}
SAME_ANSWERS: list[tuple[str, bytes, dict[str, str]]] = [
    (FETCH, orjson.dumps(fetch_body(topic("nothing-here"))), JSON),
    (FETCH, orjson.dumps(fetch_body(topic("nothing-here"), worker=42)), JSON),
    (FETCH, orjson.dumps(fetch_body(topic("x"), max_tasks=0)), JSON),
    (FETCH, orjson.dumps({"maxTasks": 1, "topics": [topic("x")]}), JSON),
    (FETCH, orjson.dumps(fetch_body(topic("x"), max_tasks=-1)), JSON),
    (FETCH, orjson.dumps(fetch_body(topic("x"), max_tasks=10**6)), JSON),
    (FETCH, orjson.dumps(fetch_body({"lockDuration": 5})), JSON),
    (FETCH, orjson.dumps(fetch_body(topic("x", lock=0))), JSON),
    (FETCH, orjson.dumps(fetch_body(topic("x"), asyncResponseTimeout=1_800_001)), JSON),
    (FETCH, orjson.dumps(fetch_body(topic("x"), sorting=[{"sortBy": "priority"}])), JSON),
    (FETCH, orjson.dumps(fetch_body(topic("x"), sorting=[{"sortBy": "createTime"}])), JSON),
    (FETCH, orjson.dumps(fetch_body(topic("x"), maxTasks="ten")), JSON),
    (FETCH, orjson.dumps(fetch_body(topic("x"), unknown={"a": 1})), JSON),
    (FETCH, b'{"workerId": "w", "maxTasks": 1, "topics": [', JSON),
    (FETCH, b"[]", JSON),
    (FETCH, b"", JSON),
    (FETCH, b"null", JSON),
    (FETCH, b'{"workerId": "\\ud800", "maxTasks": 1}', JSON),
    (FETCH, b'{"a":' + b"[" * 120 + b"]" * 120 + b"}", JSON),
    (FETCH, b'{"workerId": "w", "maxTasks": NaN}', JSON),
    (FETCH, orjson.dumps(fetch_body(topic("x"))), {"Content-Type": "text/plain"}),
    (
        FETCH,
        orjson.dumps(fetch_body(topic("x"))),
        {"Content-Type": "application/json; charset=UTF-8"},
    ),
    (FETCH, orjson.dumps(fetch_body(topic("x"))), {}),
    (FETCH, orjson.dumps(fetch_body(topic("x" * 5000))), JSON),
    (f"{ET}/no-such-task/complete", b'{"workerId": "w"}', JSON),
    (
        f"{ET}/no-such-task/complete",
        b'{"workerId": "w", "variables": {"v": {"type": "Nope"}}}',
        JSON,
    ),
    (f"{ET}/no-such-task/complete", b'{"variables": 5}', JSON),
    (f"{ET}/no-such-task/complete", b"{}", JSON),
    (f"{ET}/no-such-task/complete", b"", JSON),
    (f"{ET}/no-such-task/complete/", b"{}", JSON),
    (f"{ET}//complete", b"{}", JSON),
    (f"{API}/engine/other/external-task/x/complete", b"{}", JSON),
]


@pytest.mark.parametrize(("path", "body", "headers"), SAME_ANSWERS)
async def test_answers_are_those_of_the_full_application(client, full, path, body, headers):
    hot = await client.post(path, content=body, headers=headers)
    slow = await full.post(path, content=body, headers=headers)
    assert (hot.status_code, hot.headers.raw, hot.content) == (
        slow.status_code,
        slow.headers.raw,
        slow.content,
    )


async def test_a_task_owned_by_another_worker_is_refused_alike(client, full, store):
    task_id = await store.publish(NewTask("owned"))
    await store.lock(task_id, "w1", 60_000)
    path = f"{ET}/{task_id}/complete"
    hot = await client.post(path, json={"workerId": "w2"})
    slow = await full.post(path, json={"workerId": "w2"})
    assert (hot.status_code, slow.status_code) == (400, 400)
    assert (hot.headers.raw, hot.content) == (slow.headers.raw, slow.content)
    assert (await store.get(task_id)).worker_id == "w1"  # type: ignore[union-attr]


async def test_a_fetched_task_reads_alike(client, full, store):
    variables: dict[str, Any] = {
        "s": {"type": "String", "value": "é"},
        "j": {"type": "Json", "value": '{"a": 1}'},
        "d": {"type": "Date", "value": "2023-11-14T22:13:20.123+0000"},
    }
    for name in ("hot", "full"):
        await store.publish(NewTask(name, variables=variables, business_key="bk", priority=3))
    hot = await client.post(FETCH, json=fetch_body(topic("hot")))
    slow = await full.post(FETCH, json=fetch_body(topic("full")))
    [hot_task], [slow_task] = hot.json(), slow.json()
    assert hot_task.pop("id") != slow_task.pop("id")
    assert (hot_task.pop("topicName"), slow_task.pop("topicName")) == ("hot", "full")
    assert hot_task == slow_task
    assert [k for k, _ in hot.headers.raw] == [k for k, _ in slow.headers.raw]


async def test_authentication_applies_to_the_hot_routes(settings, store):
    secured = settings.model_copy(update={"auth_enabled": True, "auth_users": "alice:secret"})
    application = create_app(secured, store=store)
    async with started(application, store):
        application.router.routes.clear()  # a 2xx can only come from the hot path
        async with client_of(application) as client:
            body = fetch_body(topic("auth"))
            assert (await client.post(FETCH, json=body, headers=ALICE)).json() == []
            anonymous = await client.post(FETCH, json=body)
            assert (anonymous.status_code, anonymous.headers["www-authenticate"]) == (
                401,
                'Basic realm="default"',
            )
            wrong = {"Authorization": "Basic " + base64.b64encode(b"alice:nope").decode()}
            assert (await client.post(FETCH, json=body, headers=wrong)).status_code == 401
            twice = httpx.Headers([("Authorization", ALICE["Authorization"])] * 2)
            assert (await client.post(FETCH, json=body, headers=twice)).status_code == 400


async def test_with_the_access_log_every_request_takes_the_full_path(settings, store):
    application = create_app(settings, store=store, access_log=True)
    assert application.hot is None  # type: ignore[attr-defined]


async def asgi_post(app: FastAPI, path: str, body: bytes, length: bytes) -> tuple[int, bytes]:
    """POST straight to the ASGI app with a Content-Length as given (no client fixes it)."""
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", length)],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize("path", [FETCH, f"{ET}/some-task/complete"])
async def test_a_content_length_of_thousands_of_digits_is_refused_as_too_large(app, path):
    status, body = await asgi_post(app, path, b"{}", b"9" * 5000)
    assert status == 400
    assert orjson.loads(body)["message"] == (
        "The request body exceeds the limit of 8388608 bytes (REDTASK_GATEWAY_MAX_BODY_BYTES)"
    )
    body = orjson.dumps(fetch_body(topic("zeros")))
    status, answer = await asgi_post(app, FETCH, body, b"0" * 30 + str(len(body)).encode())
    assert (status, answer) == (200, b"[]")  # leading zeros are still a small length
