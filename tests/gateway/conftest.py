"""Gateway fixtures: the app built in-process on the test's store (fake clock, real Redis),
its lifespan entered by hand (httpx's ASGITransport does not run it), and an httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from broker.model import NewTask
from broker.settings import Settings
from broker.store import Store
from gateway.app import create_app
from tests.gateway.helpers import started


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
def publish(store: Store) -> Callable[..., Any]:
    """``await publish("topic", variables=..., priority=...)`` -> task id (through the store)."""

    async def _publish(topic: str = "t", **fields: Any) -> str:
        return await store.publish(NewTask(topic, **fields))

    return _publish
