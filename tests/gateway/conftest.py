"""Gateway fixtures: the app built in-process on the test's store (fake clock, real Redis),
its lifespan entered by hand (httpx's ASGITransport does not run it), and an httpx client;
``tasks``, the query tests' four tasks in every state (see ``query_helpers.Tasks``), and
``serve_models``, the process-instance tests' models in place of deployments.

Every test that creates tasks through ``publish`` runs twice: with standalone tasks and with
tasks created by process instances (``origin``). ``standalone_only(reason)`` skips the process
run and ``process_only(reason)`` the standalone one, saying why; ``process_xfail(reason)`` names
a known gap of process tasks (a strict xfail: it fails once the gap is closed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from redtask.broker.bpmn import ProcessModel
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from redtask.gateway.app import create_app
from tests.conftest import FakeClock
from tests.gateway.helpers import ORIGINS, Publisher, started
from tests.gateway.instance_helpers import MODELS
from tests.gateway.query_helpers import Tasks

# marker -> (the origin it changes, the mark that origin's run gets)
ORIGIN_MARKERS = {
    "standalone_only": ("process", lambda reason: pytest.mark.skip(reason=reason)),
    "process_only": ("standalone", lambda reason: pytest.mark.skip(reason=reason)),
    "process_xfail": ("process", lambda reason: pytest.mark.xfail(reason=reason, strict=True)),
}


def pytest_configure(config: pytest.Config) -> None:
    for name, (origin, _) in ORIGIN_MARKERS.items():
        config.addinivalue_line("markers", f"{name}(reason): changes the {origin} origin's run")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "origin" not in metafunc.fixturenames:
        return
    params = []
    for origin in ORIGINS:
        marks = []
        for name, (affected, mark) in ORIGIN_MARKERS.items():
            marker = metafunc.definition.get_closest_marker(name)
            if marker is not None and affected == origin:
                marks.append(mark(f"{name}: {marker.args[0]}"))
        params.append(pytest.param(origin, marks=marks, id=origin))
    metafunc.parametrize("origin", params)


@pytest.fixture
async def app(settings: Settings, store: Store) -> AsyncIterator[FastAPI]:
    application = create_app(settings, store=store)
    async with started(application, store):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def publish(store: Store, origin: str) -> Publisher:
    """``await publish("topic", variables=..., priority=...)`` -> task id, of ``origin``."""
    return Publisher(store, origin)


@pytest.fixture
async def tasks(store: Store, clock: FakeClock, publish: Publisher) -> Tasks:
    variables_a = {"v": {"type": "String", "value": "x"}, "n": {"type": "Integer", "value": 5}}
    ids = []
    for topic_name, variables, priority, tenant_id in [
        ("a", variables_a, 10, "t1"),
        ("b", None, 0, None),
        ("a", {"v": {"type": "String", "value": "y"}}, 5, "t2"),
        ("c", None, -1, None),
    ]:
        task_id = await publish(
            topic_name, variables, priority=priority, tenant_id=tenant_id, partition=0
        )
        ids.append(task_id)
        clock.advance(1)
    # clock: T = START + 4 ms
    await store.lock(ids[0], "w1", 10_000)
    await store.lock(ids[1], "w2", 1000)
    await store.handle_failure(ids[1], "w2", "gave up", "details of b", 0, 0)
    await store.lock(ids[3], "w3", 1000)
    await store.handle_failure(ids[3], "w3", "later", None, 2, 60_000)
    clock.advance(1)  # b's lock (expiring at T) now lies in the past
    return Tasks(*ids)


@pytest.fixture
def serve_models(store: Store, app: FastAPI) -> None:
    """The process-instance tests' models in place of deployments (set after the app's start,
    which installs the deployed definitions as the store's models); those modules use it with
    ``pytestmark = pytest.mark.usefixtures("serve_models")``."""

    async def lookup(definition_id: str) -> ProcessModel:
        return MODELS[definition_id]

    store.models = lookup
