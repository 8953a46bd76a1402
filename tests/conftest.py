"""Test fixtures: one real redis-server per session (or $REDTASK_TEST_REDIS_URL), a fake clock,
and a store per test in its own namespace, run with 1 and with 4 partitions."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from redtask.broker.connection import client_for
from redtask.broker.embedded import EmbeddedRedis
from redtask.broker.settings import Settings
from redtask.broker.store import Store

START_MS = 1_700_000_000_000


class FakeClock:
    """Milliseconds since the epoch that move only when a test says so."""

    def __init__(self, now: int = START_MS) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("REDTASK_TEST_REDIS_URL")
    if external:
        yield external
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def namespace() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=[1, 4], ids=["p1", "p4"])
def partitions(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def settings(namespace: str, partitions: int) -> Settings:
    return Settings(namespace=namespace, partitions=partitions, data_dir=Path("unused"))


@pytest.fixture
async def store(redis_url: str, settings: Settings, clock: FakeClock) -> AsyncIterator[Store]:
    client = client_for(redis_url)
    try:
        yield Store(client, settings, clock)
    finally:
        keys = [k async for k in client.scan_iter(match=f"*{settings.namespace}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
