"""GET /metrics: the gateway's requests and the broker's state in Prometheus' text format,
parsed with prometheus-client's own parser, with exact values after a known sequence."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from redtask.broker.connection import client_for
from redtask.broker.embedded import free_port
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from tests.conftest import FakeClock
from tests.gateway.helpers import ET, fetch_body, serve, topic

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def topic_row(samples: Samples, name: str) -> tuple[float | None, ...]:
    return tuple(
        value(samples, "redtask_topic_tasks", topic=name, state=state)
        for state in ("available", "locked", "retrying", "incident")
    )


@pytest.fixture
def uncached(app: FastAPI) -> None:
    app.state.metrics.broker.ttl_s = 0  # every scrape reads the broker's state


@pytest.mark.usefixtures("uncached")
async def test_broker_state_follows_publish_lock_complete_fail_retry_and_incident(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    for _ in range(3):
        await client.post("/redtask/topics/mail/tasks", json={})
    await client.post("/redtask/topics/sms/tasks", json={})
    clock.advance(5_000)

    samples = await scrape(client)
    assert topic_row(samples, "mail") == (3, 0, 0, 0)
    assert topic_row(samples, "sms") == (1, 0, 0, 0)
    assert value(samples, "redtask_topic_oldest_available_task_age_seconds", topic="mail") == 5.0
    assert value(samples, "redtask_incidents_open") == 0
    assert value(samples, "redtask_process_instances_running") == 0

    fetched = await client.post(f"{ET}/fetchAndLock", json=fetch_body(topic("mail"), max_tasks=2))
    done, failing = [t["id"] for t in fetched.json()]
    assert topic_row(await scrape(client), "mail") == (1, 2, 0, 0)

    await client.post(f"{ET}/{done}/complete", json={"workerId": "w"})
    failure = {"workerId": "w", "errorMessage": "down", "retries": 1, "retryTimeout": 60_000}
    await client.post(f"{ET}/{failing}/failure", json=failure)
    assert topic_row(await scrape(client), "mail") == (1, 0, 1, 0)

    clock.advance(60_000)
    await store.sweep()
    samples = await scrape(client)
    assert topic_row(samples, "mail") == (2, 0, 0, 0)
    # the oldest waiting task was published 65 s ago
    assert value(samples, "redtask_topic_oldest_available_task_age_seconds", topic="mail") == 65.0

    fetched = await client.post(f"{ET}/fetchAndLock", json=fetch_body(topic("mail"), max_tasks=2))
    for task in fetched.json():
        failure = {"workerId": "w", "errorMessage": "gone", "retries": 0, "retryTimeout": 0}
        await client.post(f"{ET}/{task['id']}/failure", json=failure)
    samples = await scrape(client)
    assert topic_row(samples, "mail") == (0, 0, 0, 2)
    assert value(samples, "redtask_topic_oldest_available_task_age_seconds", topic="mail") == 0.0
    assert value(samples, "redtask_incidents_open") == 2

    requests = "redtask_http_requests_total"
    route = "/engine-rest/external-task/{id}"
    assert value(samples, requests, route=f"{route}/complete", method="POST", status="204") == 1
    assert value(samples, requests, route=f"{route}/failure", method="POST", status="204") == 3
    assert (
        value(samples, requests, route="/redtask/topics/{topic}/tasks", method="POST", status="201")
        == 4
    )
    fetch_route = "/engine-rest/external-task/fetchAndLock"
    assert value(samples, requests, route=fetch_route, method="POST", status="200") == 2
    # the four earlier scrapes (this one is counted once answered)
    assert value(samples, requests, route="/metrics", method="GET", status="200") == 4
    assert (
        value(
            samples,
            "redtask_http_request_duration_seconds_count",
            route=fetch_route,
            method="POST",
        )
        == 2
    )


async def test_requests_are_labelled_by_route_template_never_by_raw_path(
    client: httpx.AsyncClient,
) -> None:
    for n in range(3):
        await client.get(f"{ET}/missing-{n}")
        await client.get(f"/no/such/path/{n}")

    samples = await scrape(client)
    requests = "redtask_http_requests_total"
    assert value(samples, requests, route=f"{ET}/{{id}}", method="GET", status="404") == 3
    assert value(samples, requests, route="<unmatched>", method="GET", status="404") == 3
    assert not [key for key in samples if any("missing-" in v for _, v in key[1])]


async def test_the_broker_state_is_cached_for_a_second(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await client.post("/redtask/topics/mail/tasks", json={})
    assert topic_row(await scrape(client), "mail") == (1, 0, 0, 0)

    await client.post("/redtask/topics/mail/tasks", json={})
    assert topic_row(await scrape(client), "mail") == (1, 0, 0, 0)  # the cached read

    app.state.metrics.broker.read_at -= 1.0  # a second later
    assert topic_row(await scrape(client), "mail") == (2, 0, 0, 0)


async def test_parked_long_polls_are_counted_and_their_wake_latency_observed(
    client: httpx.AsyncClient, store: Store
) -> None:
    from tests.gateway.helpers import wake_listener_subscribed

    await wake_listener_subscribed(store)
    body = fetch_body(topic("late"), asyncResponseTimeout=5_000)
    poll = asyncio.ensure_future(client.post(f"{ET}/fetchAndLock", json=body))
    for _ in range(100):
        if value(await scrape(client), "redtask_long_polls_parked") == 1:
            break
        await asyncio.sleep(0.01)
    assert value(await scrape(client), "redtask_long_polls_parked") == 1
    await asyncio.sleep(0.2)  # past its first fetch (counted parked just before it), asleep

    await client.post("/redtask/topics/late/tasks", json={})
    assert len((await poll).json()) == 1

    samples = await scrape(client)
    assert value(samples, "redtask_long_polls_parked") == 0
    assert value(samples, "redtask_long_poll_wake_latency_seconds_count") == 1
    assert value(samples, "redtask_redis_errors_total") == 0


async def test_requests_refused_because_redis_is_unreachable_are_counted(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    unreachable = client_for(f"redis://127.0.0.1:{free_port()}/0")
    app.state.store = Store(unreachable, settings)  # as if Redis went away after startup
    try:
        for _ in range(2):
            assert (await client.get(f"{ET}/count")).status_code == 503
    finally:
        await unreachable.aclose()

    samples = await scrape(client)  # the broker's state was read before: the cached one
    assert value(samples, "redtask_redis_errors_total") == 2
    assert (
        value(
            samples, "redtask_http_requests_total", route=f"{ET}/count", method="GET", status="503"
        )
        == 2
    )


async def test_metrics_need_no_credentials_when_auth_is_on(
    settings: Settings, store: Store
) -> None:
    secured = settings.model_copy(update={"auth_enabled": True, "auth_users": "alice:secret"})
    async with serve(secured, store) as client:
        assert (await client.get("/metrics")).status_code == 200
        assert (await client.get("/redtask/topics")).status_code == 401


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs-assets/swagger-ui-bundle.js"])
async def test_the_local_api_docs_answer_with_credentials_when_auth_is_on(
    settings: Settings, store: Store, path: str
) -> None:
    secured = settings.model_copy(update={"auth_enabled": True, "auth_users": "alice:secret"})
    async with serve(secured, store) as client:
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, auth=("alice", "secret"))).status_code == 200
