"""A worker rides out a Redis restart and a gateway restart by itself: every task ends."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from redtask.broker.connection import BACKEND_ERRORS, client_for
from redtask.broker.embedded import EmbeddedRedis, free_port
from redtask.broker.model import NewTask
from redtask.broker.query import TaskQuery
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from redtask.broker.store_base import wall_clock_ms
from redtask.worker import Backoff, Worker
from redtask.worker.transport.base import Transport
from redtask.worker.transport.redis import RedisTransport
from redtask.worker.transport.rest import RestTransport
from tests.processes import gateway_process, redtask_env, scheduler_process
from tests.worker.helpers import eventually, running

TASKS = 60


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis of the test's own, so that the test may restart it."""
    server = EmbeddedRedis(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def restart_settings(own_redis: EmbeddedRedis) -> Settings:
    return Settings(redis_url=own_redis.url, namespace=f"r{uuid.uuid4().hex[:8]}", partitions=2)


@pytest.fixture
async def restart_store(restart_settings: Settings) -> AsyncIterator[Store]:
    assert restart_settings.redis_url
    client = client_for(restart_settings.redis_url)
    try:
        yield Store(client, restart_settings, wall_clock_ms)
    finally:
        await client.aclose()


def env_of(settings: Settings) -> dict[str, str]:
    assert settings.redis_url
    return redtask_env(settings.redis_url, settings.namespace, settings.partitions)


def flaky_worker(transport: Transport, topic: str, handled: list[str]) -> Worker:
    worker = Worker(
        transport,
        concurrency=4,
        poll_timeout=1_000,
        lock_duration=5_000,
        reconnect=Backoff(initial_ms=100, max_ms=500, jitter=0),
    )

    @worker.task(topic)
    async def work(task_number: int) -> dict[str, int]:
        handled.append(str(task_number))
        await asyncio.sleep(0.05)
        return {"square": task_number**2}

    return worker


async def publish_numbered(store: Store, topic: str) -> None:
    await store.publish_many(
        [
            NewTask(topic, variables={"task_number": {"value": i, "type": "Integer"}})
            for i in range(TASKS)
        ]
    )


async def all_done(store: Store, topic: str) -> bool:
    try:
        return await store.count(TaskQuery(topic_name=topic)) == 0
    except BACKEND_ERRORS:  # our own connection from before the restart
        return False


@pytest.mark.parametrize("kind", ["rest", "redis"])
async def test_the_worker_recovers_from_a_redis_restart_and_every_task_ends(
    kind: str, own_redis: EmbeddedRedis, restart_settings: Settings, restart_store: Store
) -> None:
    topic = "restart"
    await publish_numbered(restart_store, topic)
    handled: list[str] = []
    with ExitStack() as stack:
        env = env_of(restart_settings)
        stack.enter_context(scheduler_process(env))
        url = await asyncio.to_thread(stack.enter_context, gateway_process(env))
        transport: Transport = (
            RestTransport(f"{url}/engine-rest")
            if kind == "rest"
            else RedisTransport(restart_settings)
        )
        async with running(flaky_worker(transport, topic, handled)):
            await eventually(lambda: asyncio.sleep(0, len(handled) >= 15))
            await asyncio.to_thread(own_redis.stop)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(own_redis.start)
            await eventually(lambda: all_done(restart_store, topic), timeout=60)

    assert set(handled) == {str(i) for i in range(TASKS)}


async def test_the_rest_worker_recovers_from_a_gateway_restart_and_every_task_ends(
    restart_settings: Settings, restart_store: Store
) -> None:
    topic = "gateway-restart"
    await publish_numbered(restart_store, topic)
    handled: list[str] = []
    port = free_port()
    env = env_of(restart_settings)
    with ExitStack() as stack:
        stack.enter_context(scheduler_process(env))
        first = ExitStack()
        url = await asyncio.to_thread(first.enter_context, gateway_process(env, port))
        transport = RestTransport(f"{url}/engine-rest")
        async with running(flaky_worker(transport, topic, handled)):
            await eventually(lambda: asyncio.sleep(0, len(handled) >= 15))
            await asyncio.to_thread(first.close)  # SIGTERM, exit 0 checked
            await asyncio.sleep(1.0)
            await asyncio.to_thread(stack.enter_context, gateway_process(env, port))
            await eventually(lambda: all_done(restart_store, topic), timeout=60)

    assert set(handled) == {str(i) for i in range(TASKS)}
