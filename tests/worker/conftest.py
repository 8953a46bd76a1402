"""Worker fixtures: one real gateway and scheduler per module (on the session's Redis), a
fresh topic per test, and a transport of each kind."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from redtask.broker.connection import client_for
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from redtask.broker.store_base import wall_clock_ms
from redtask.worker.transport.base import Transport
from redtask.worker.transport.redis import RedisTransport
from redtask.worker.transport.rest import RestTransport
from tests.processes import GatewayURL, gateway_process, redtask_env, scheduler_process

PARTITIONS = 2


@pytest.fixture(scope="module")
def worker_namespace() -> str:
    return f"w{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def worker_settings(worker_namespace: str, redis_url: str) -> Settings:
    return Settings(redis_url=redis_url, namespace=worker_namespace, partitions=PARTITIONS)


@pytest.fixture(scope="module")
def env(redis_url: str, worker_namespace: str) -> dict[str, str]:
    return redtask_env(redis_url, worker_namespace, PARTITIONS)


@pytest.fixture(scope="module")
def gateway(env: dict[str, str]) -> Iterator[GatewayURL]:
    with gateway_process(env) as url, scheduler_process(env):
        yield url


@pytest.fixture
def api(gateway: GatewayURL) -> str:
    return f"{gateway}/engine-rest"


@pytest.fixture
def topic() -> str:
    return f"topic-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def store(worker_settings: Settings) -> AsyncIterator[Store]:
    """The broker's store on the gateway's namespace (wall clock), for setting up and checking."""
    assert worker_settings.redis_url
    client = client_for(worker_settings.redis_url)
    try:
        yield Store(client, worker_settings, wall_clock_ms)
    finally:
        await client.aclose()


@pytest.fixture(params=["rest", "redis"])
def transport_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_transport(
    transport_kind: str, api: str, worker_settings: Settings
) -> Callable[[], Transport]:
    """A factory: each worker in a test gets its own transport of the test's kind."""

    def make() -> Transport:
        if transport_kind == "rest":
            return RestTransport(api)
        return RedisTransport(worker_settings)

    return make
