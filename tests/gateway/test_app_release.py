"""A gateway app that is dropped is freed: a process that builds many (a test suite, an
embedding application) does not keep them, with their routers, metrics and Redis clients."""

from __future__ import annotations

import gc
import weakref

import httpx
from fastapi import FastAPI

from redtask.broker.settings import Settings
from redtask.broker.store import Store
from redtask.gateway.app import create_app
from tests.gateway.helpers import started


async def _served(settings: Settings, store: Store) -> weakref.ref[FastAPI]:
    app = create_app(settings, store=store)
    async with started(app, store):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            for page in ("/docs", "/redoc", "/docs/oauth2-redirect", "/engine-rest/engine"):
                assert (await http.get(page)).status_code == 200, page
    return weakref.ref(app)


async def test_apps_that_served_requests_are_freed_once_dropped(
    settings: Settings, store: Store
) -> None:
    apps = [await _served(settings, store) for _ in range(3)]
    gc.collect()

    assert [app() for app in apps] == [None, None, None]


async def test_the_docs_pages_name_the_apps_own_title_and_schema(
    client: httpx.AsyncClient,
) -> None:
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        assert "<title>redtask - REST API</title>" in html, page
        assert "'/openapi.json'" in html or '"/openapi.json"' in html, page
