"""Constants and small helpers shared by the gateway tests."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from broker.settings import Settings
from broker.store import Store
from gateway.app import create_app

API = "/engine-rest"
ET = f"{API}/external-task"
DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$")
START = "2023-11-14T22:13:20.000+0000"  # tests.conftest.START_MS in the REST date format


def topic(name: str = "t", lock: Any = 10_000, **extra: Any) -> dict[str, Any]:
    return {"topicName": name, "lockDuration": lock, **extra}


def fetch_body(*topics: dict[str, Any], worker: str = "w", max_tasks: Any = 10, **extra: Any):
    return {"workerId": worker, "maxTasks": max_tasks, "topics": list(topics) or [topic()], **extra}


def error(type_: str, message: str | None, code: int | None = None) -> dict[str, Any]:
    return {"type": type_, "message": message, "code": code}


def same_partition_ids(store: Store, count: int, partition: int = 0) -> list[str]:
    """Task ids that all land in one partition (order assertions hold for any partition count)."""
    ids: list[str] = []
    while len(ids) < count:
        candidate = store.new_task_id()
        if store.keys.partition_of(candidate) == partition:
            ids.append(candidate)
    return ids


async def wake_listener_subscribed(store: Store) -> None:
    """Wait until a gateway's wake-up listener has subscribed to the store's channel."""
    for _ in range(1000):
        [(_, subscribers)] = await store.redis.pubsub_numsub(store.keys.wake_channel)
        if subscribers:
            return
        await asyncio.sleep(0.002)
    raise AssertionError("the gateway's wake-up listener never subscribed")


@asynccontextmanager
async def started(app: FastAPI, store: Store) -> AsyncIterator[FastAPI]:
    """Run the app's lifespan, and wait until it is fully started (its listener subscribed).

    Waiting also keeps the fixtures clear of a shutdown hang that a stop *during* the
    subscription causes (test_engine_and_errors.py exposes it).
    """
    async with app.router.lifespan_context(app):
        await wake_listener_subscribed(store)
        yield app


@asynccontextmanager
async def serve(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app built with other settings on the same store (lifespan entered)."""
    app = create_app(settings, store=store)
    async with started(app, store):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
