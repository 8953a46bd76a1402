"""The engine surface around the external-task API (ExceptionDto bodies, ExceptionHandlerHelper's
status mapping, ProcessEngineDto, VersionDto): engine and version, the /engine/{name} prefix,
unknown paths and methods, health probes, the OpenAPI document, redtask's extension API, and the
app's lifecycle."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from redtask.broker.model import NewTask
from redtask.gateway.app import create_app
from tests.gateway.helpers import API, ET, error, fetch_body, topic

DEFAULT = f"{API}/engine/default"
NOT_FOUND = error("NotFoundException", "HTTP 404 Not Found")
NOT_ALLOWED = error("NotAllowedException", "HTTP 405 Method Not Allowed")
NO_ENGINE = error("InvalidRequestException", "No process engine available")


async def test_get_engine_lists_the_default_engine(client):
    response = await client.get(f"{API}/engine")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == [{"name": "default"}]


@pytest.mark.parametrize("prefix", [API, DEFAULT])
async def test_get_version_is_7_24_0(client, prefix):
    response = await client.get(f"{prefix}/version")

    assert (response.status_code, response.json()) == (200, {"version": "7.24.0"})


# ------------------------------------------------------------ every route under /engine/default


def _routes(task_id: str) -> list[tuple[str, str, dict | None, int]]:
    """(method, path below the prefix, JSON body, expected status) of every external-task route."""
    et = "/external-task"
    return [
        ("GET", et, None, 200),
        ("POST", et, {}, 200),
        ("GET", f"{et}/count", None, 200),
        ("POST", f"{et}/count", {}, 200),
        ("GET", f"{et}/topic-names", None, 200),
        ("GET", f"{et}/{task_id}", None, 200),
        ("GET", f"{et}/{task_id}/errorDetails", None, 204),
        ("PUT", f"{et}/{task_id}/priority", {"priority": 3}, 204),
        ("PUT", f"{et}/{task_id}/retries", {"retries": 3}, 204),
        ("PUT", f"{et}/retries", {"retries": 3, "externalTaskIds": [task_id]}, 204),
        ("POST", f"{et}/retries-async", {"retries": 3, "externalTaskIds": [task_id]}, 200),
        ("POST", f"{et}/fetchAndLock", fetch_body(topic("t")), 200),
        ("POST", f"{et}/{task_id}/extendLock", {"workerId": "w", "newDuration": 1000}, 204),
        ("POST", f"{et}/{task_id}/failure", {"workerId": "w", "retries": 1}, 204),
        ("POST", f"{et}/{task_id}/unlock", None, 204),
        ("POST", f"{et}/{task_id}/lock", {"workerId": "w", "lockDuration": 1000}, 204),
        ("POST", f"{et}/{task_id}/complete", {"workerId": "w"}, 204),
        ("POST", f"{et}/{task_id}/bpmnError", {"workerId": "w", "errorCode": "E"}, 404),
        ("GET", "/version", None, 200),
    ]


@pytest.mark.parametrize("prefix", [API, DEFAULT])
async def test_every_external_task_route_answers_at_the_root_and_under_engine_default(
    client, publish, prefix
):
    task_id = await publish("t")

    for method, path, body, expected in _routes(task_id):
        response = await client.request(method, prefix + path, json=body)
        assert response.status_code == expected, (method, path, response.text)


async def test_the_default_engine_prefix_reaches_the_same_tasks(client, publish):
    task_id = await publish("t")
    [locked] = (
        await client.post(f"{DEFAULT}/external-task/fetchAndLock", json=fetch_body())
    ).json()

    via_root = await client.get(f"{ET}/{task_id}")

    assert locked["id"] == task_id
    assert via_root.json()["workerId"] == "w"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/external-task"),
        ("POST", "/external-task/fetchAndLock"),
        ("POST", "/external-task/some-id/complete"),
        ("PUT", "/external-task/some-id/retries"),
        ("GET", "/version"),
    ],
)
async def test_an_unknown_engine_name_is_a_400_no_process_engine_available(client, method, path):
    response = await client.request(method, f"{API}/engine/other{path}", json={})

    assert response.status_code == 400
    assert response.json() == NO_ENGINE


# ------------------------------------------------------------------ unknown paths and methods


@pytest.mark.parametrize(
    "path",
    ["/nope", f"{API}/nope", f"{API}/external-task/a/b/c", f"{API}/case-definition"],
)
async def test_an_unknown_path_is_a_404_with_a_json_body(client, path):
    response = await client.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == NOT_FOUND


async def test_an_unknown_path_under_the_default_engine_is_a_404(client):
    response = await client.get(f"{DEFAULT}/nope")

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/external-task/some-id"),
        ("PATCH", "/external-task/some-id"),
        ("GET", "/external-task/fetchAndLock"),
        ("PUT", "/external-task/some-id/complete"),
        ("DELETE", "/version"),
    ],
)
async def test_a_wrong_method_is_a_405_with_a_json_body(client, method, path):
    response = await client.request(method, API + path)

    assert response.status_code == 405
    assert response.headers["content-type"] == "application/json"
    assert response.json() == NOT_ALLOWED


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/external-task/some-id"), ("PUT", "/external-task/some-id/complete")],
)
async def test_a_wrong_method_under_the_default_engine_is_a_405(client, method, path):
    response = await client.request(method, DEFAULT + path)

    assert response.status_code == 405
    assert response.json() == NOT_ALLOWED


# ------------------------------------------------------------------ probes and OpenAPI


async def test_the_liveness_probe_is_up(client):
    response = await client.get("/health/live")

    assert (response.status_code, response.json()) == (200, {"status": "UP"})


async def test_the_readiness_probe_reports_redis_up(client):
    response = await client.get("/health/ready")

    assert (response.status_code, response.json()) == (200, {"status": "UP", "redis": "UP"})


async def test_the_openapi_document_lists_the_external_task_paths(client):
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for path in [
        "/external-task/fetchAndLock",
        "/external-task/{id}/complete",
        "/external-task/{id}/failure",
        "/external-task/{id}/bpmnError",
        "/external-task/{id}/lock",
        "/external-task/{id}/extendLock",
        "/external-task/{id}/unlock",
        "/external-task",
        "/external-task/count",
        "/external-task/{id}",
        "/external-task/{id}/errorDetails",
        "/external-task/{id}/retries",
        "/external-task/{id}/priority",
        "/external-task/retries",
        "/external-task/retries-async",
        "/external-task/topic-names",
    ]:
        assert f"{API}{path}" in paths, path
    assert "post" in paths[f"{API}/external-task/fetchAndLock"]
    assert "/redtask/topics/{topic}/tasks" in paths


# ------------------------------------------------------------------ redtask extension API


async def test_publishing_one_task_answers_201_with_its_id(client):
    body = {
        "variables": {"orderId": {"type": "String", "value": "1234"}},
        "priority": 7,
        "businessKey": "order-1234",
        "tenantId": "shop",
    }

    response = await client.post("/redtask/topics/charge/tasks", json=body)

    assert response.status_code == 201
    [task_id] = response.json()["ids"]
    assert set(response.json()) == {"ids"}
    [task] = (await client.post(f"{ET}/fetchAndLock", json=fetch_body(topic("charge")))).json()
    assert task["id"] == task_id
    assert (task["priority"], task["businessKey"], task["tenantId"]) == (7, "order-1234", "shop")
    assert task["variables"] == {"orderId": {"type": "String", "value": "1234", "valueInfo": {}}}


async def test_publishing_an_array_answers_the_ids_in_request_order(client):
    body = [{"priority": 1}, {"priority": 2}, {}]

    response = await client.post("/redtask/topics/batch/tasks", json=body)

    assert response.status_code == 201
    ids = response.json()["ids"]
    assert len(ids) == len(set(ids)) == 3
    priorities = [(await client.get(f"{ET}/{i}")).json()["priority"] for i in ids]
    assert priorities == [1, 2, 0]


async def test_publishing_with_initial_retries_sets_them(client):
    response = await client.post("/redtask/topics/r/tasks", json={"retries": 3})

    [task_id] = response.json()["ids"]
    assert (await client.get(f"{ET}/{task_id}")).json()["retries"] == 3


async def test_publishing_a_bad_variable_is_a_400_and_publishes_nothing(client):
    body = [{}, {"variables": {"v": {"type": "Nope", "value": 1}}}]

    response = await client.post("/redtask/topics/bad/tasks", json=body)

    assert response.status_code == 400
    assert response.json() == error("RestException", "Unsupported value type 'Nope'")
    assert (await client.get(f"{ET}/count")).json() == {"count": 0}


async def test_topic_statistics_count_available_locked_retrying_and_incident_tasks(client, store):
    ids = [await store.publish(NewTask("x")) for _ in range(4)]
    await store.publish(NewTask("y"))
    await store.publish(NewTask("y"))
    await store.lock(ids[1], "w", 10_000)
    await store.lock(ids[2], "w", 10_000)
    await store.handle_failure(ids[2], "w", "later", None, 3, 60_000)
    await store.lock(ids[3], "w", 10_000)
    await store.handle_failure(ids[3], "w", "broken", None, 0, 0)

    response = await client.get("/redtask/topics")

    assert response.status_code == 200
    assert response.json() == [
        {"topicName": "x", "available": 1, "locked": 1, "retrying": 1, "incidents": 1},
        {"topicName": "y", "available": 2, "locked": 0, "retrying": 0, "incidents": 0},
    ]


async def test_topic_statistics_leave_out_topics_without_tasks(client, store):
    task_id = await store.publish(NewTask("gone"))
    await store.lock(task_id, "w", 1000)
    await store.complete(task_id, "w")

    assert (await client.get("/redtask/topics")).json() == []


# ------------------------------------------------------------------ lifecycle


@pytest.mark.parametrize("partitions", [1], indirect=True)
async def test_the_app_stops_promptly_however_soon_after_starting_it_is_stopped(settings, store):
    """Stopping the app while its wake-up listener is still subscribing must not hang.

    (On Python 3.11, asyncio.wait_for inside redis-py's send can swallow the listener's
    cancellation; WakeHub.stop() then awaits the listener forever.)
    """
    for steps in range(40):
        app = create_app(settings, store=store)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        for _ in range(steps):
            await asyncio.sleep(0)
        stopping = asyncio.ensure_future(lifespan.__aexit__(None, None, None))
        done, _ = await asyncio.wait({stopping}, timeout=1)
        if not done:  # free the stuck listener so the test ends cleanly, then fail
            app.state.hub._listener.cancel()
            await asyncio.wait({stopping}, timeout=1)
        assert done, f"the app did not stop within 1 s when stopped {steps} loop steps after start"


async def test_requests_work_while_the_app_runs_with_its_own_store(redis_url, settings):
    """Without a store the app connects to settings.redis_url on startup, and closes it."""
    app = create_app(settings.model_copy(update={"redis_url": redis_url}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            created = await client.post("/redtask/topics/own/tasks", json={})
            ready = await client.get("/health/ready")
            await client.post(
                f"{ET}/{created.json()['ids'][0]}/lock",
                json={"workerId": "w", "lockDuration": 1000},
            )
            await client.post(f"{ET}/{created.json()['ids'][0]}/complete", json={"workerId": "w"})

    assert created.status_code == 201
    assert ready.json() == {"status": "UP", "redis": "UP"}
