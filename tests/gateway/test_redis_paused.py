"""While Redis is paused (or its connections are all busy) the gateway answers 503 in bounded
time instead of hanging: readiness within a second, every other request within the socket
timeout. Each test pauses a private redis-server, never the suite's shared one."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from redtask.broker.embedded import EmbeddedRedis
from redtask.broker.settings import Settings
from redtask.broker.store import Store, open_store
from redtask.gateway.app import create_app
from tests.gateway.helpers import started

PAUSE_MS = 4_000


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def paused_settings(private_redis: EmbeddedRedis, tmp_path: Path) -> Settings:
    return Settings(
        redis_url=private_redis.url,
        namespace="paused",
        data_dir=tmp_path,
        redis_socket_timeout_s=1.0,
        redis_pool_timeout_s=1.0,
    )


@pytest.fixture
async def paused_client(paused_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    store: Store = await open_store(paused_settings)
    app = create_app(paused_settings, store=store)
    try:
        async with started(app, store):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                yield http
    finally:
        await store.close()


def pause(server: EmbeddedRedis) -> None:
    """CLIENT PAUSE ALL: every client's next command waits PAUSE_MS (DEBUG SLEEP would block
    this test's own connection too)."""
    with redis.Redis(host=server.host, port=server.port) as admin:
        admin.execute_command("CLIENT", "PAUSE", PAUSE_MS, "ALL")


@pytest.mark.slow
async def test_readiness_answers_503_within_a_second_while_redis_is_paused(
    paused_client: httpx.AsyncClient, private_redis: EmbeddedRedis
) -> None:
    assert (await paused_client.get("/health/ready")).status_code == 200
    pause(private_redis)

    started_at = time.monotonic()
    response = await paused_client.get("/health/ready")
    elapsed = time.monotonic() - started_at

    assert response.status_code == 503
    assert response.json() == {"status": "DOWN", "redis": "no answer within 0.8 s"}
    assert elapsed < 1.0


@pytest.mark.slow
async def test_fetch_and_lock_answers_503_after_the_socket_timeout_while_redis_is_paused(
    paused_client: httpx.AsyncClient, private_redis: EmbeddedRedis
) -> None:
    body = {"workerId": "w", "maxTasks": 1, "topics": [{"topicName": "t", "lockDuration": 1000}]}
    url = "/engine-rest/external-task/fetchAndLock"
    assert (await paused_client.post(url, json=body)).json() == []
    pause(private_redis)

    started_at = time.monotonic()
    response = await paused_client.post(url, json=body)
    elapsed = time.monotonic() - started_at

    assert response.status_code == 503
    assert response.json()["type"] == "ProcessEngineException"
    assert response.json()["message"].startswith("Redis unavailable: Timeout")
    assert 1.0 <= elapsed < 2.0
