"""Test fixtures: one real redis-server per session (or $REDTASK_TEST_REDIS_URL), a real local
3-master Redis Cluster per session when a test needs one (or $REDTASK_TEST_CLUSTER_URL), a fake
clock, and a store per test in its own namespace.

Every test that uses ``store`` (the broker, scheduler, process-engine and gateway suites) runs
on three topologies: standalone with 1 and with 4 partitions, and the cluster with 8
partitions (marked ``cluster``: ``-m cluster`` selects those runs, ``-m "not cluster"`` skips
them), but for the input-validation modules in ``STANDALONE_ONLY``. Other tests that take
``partitions`` run on the standalone ones."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from redtask.broker.connection import client_for
from redtask.broker.embedded import EmbeddedRedis
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from redtask.testing.servers import LocalCluster

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


@pytest.fixture(scope="session")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis Cluster of 3 masters (slots split evenly, as `redis-cli --cluster create`
    does), started for the session on first use; or $REDTASK_TEST_CLUSTER_URL."""
    external = os.environ.get("REDTASK_TEST_CLUSTER_URL")
    if external:
        yield external
        return
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster"), masters=3).start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


class Topology(NamedTuple):
    cluster: bool
    partitions: int


STANDALONE = [
    pytest.param(Topology(False, 1), id="p1"),
    pytest.param(Topology(False, 4), id="p4"),
]
CLUSTER = pytest.param(Topology(True, 8), id="cluster-p8", marks=pytest.mark.cluster)


# input validation and the HTTP surface (answered before the topology can matter): their
# store runs standalone only, which keeps the cluster runs to what reaches Redis
STANDALONE_ONLY = frozenset(
    {
        "tests.broker.test_bad_input",
        "tests.gateway.test_auth",
        "tests.gateway.test_auth_docs",
        "tests.gateway.test_bad_input_edges",
        "tests.gateway.test_date_bounds",
        "tests.gateway.test_docs",
        "tests.gateway.test_hot_path",
        "tests.gateway.test_lone_surrogates",
        "tests.gateway.test_query_reader",
        "tests.gateway.test_refused_constructs",
        "tests.gateway.test_ready_token",
        "tests.gateway.test_route_answers",
        "tests.gateway.test_task_operation_arguments",
    }
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "topology" in metafunc.fixturenames:
        uses_store = (
            "store" in metafunc.fixturenames and metafunc.module.__name__ not in STANDALONE_ONLY
        )
        metafunc.parametrize(
            "topology", [*STANDALONE, CLUSTER] if uses_store else STANDALONE, indirect=True
        )


@pytest.fixture
def topology(request: pytest.FixtureRequest) -> Topology:
    return Topology(*request.param)


@pytest.fixture
def store_url(topology: Topology, request: pytest.FixtureRequest) -> str:
    """The Redis URL of the test's topology: the session's server or its cluster."""
    return str(request.getfixturevalue("cluster_url" if topology.cluster else "redis_url"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def namespace() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def partitions(topology: Topology) -> int:
    return topology.partitions


@pytest.fixture
def settings(namespace: str, partitions: int) -> Settings:
    return Settings(namespace=namespace, partitions=partitions, data_dir=Path("unused"))


@pytest.fixture
async def store(store_url: str, settings: Settings, clock: FakeClock) -> AsyncIterator[Store]:
    client = client_for(store_url)
    try:
        yield Store(client, settings, clock)
    finally:
        keys = [k async for k in client.scan_iter(match=f"*{settings.namespace}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
