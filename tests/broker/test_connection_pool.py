"""The client every process uses: a blocking pool sized and timed by the settings (a busy pool
makes a command wait, not fail), with connect and socket timeouts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from redtask.broker.connection import client_for
from redtask.broker.embedded import EmbeddedRedis
from redtask.broker.settings import Settings


@pytest.fixture
def private_url(tmp_path: Path) -> Iterator[str]:
    """DEBUG SLEEP blocks the whole server: never the suite's shared one."""
    with EmbeddedRedis(tmp_path / "redis") as server:
        yield server.url


async def test_the_client_has_a_blocking_pool_with_the_configured_sizes_and_timeouts(
    redis_url: str,
) -> None:
    settings = Settings(
        redis_max_connections=7,
        redis_pool_timeout_s=3.5,
        redis_socket_timeout_s=4.5,
        redis_connect_timeout_s=1.5,
    )
    client = client_for(redis_url, settings)
    try:
        pool = client.connection_pool
        assert isinstance(pool, aioredis.BlockingConnectionPool)
        assert (pool.max_connections, pool.timeout) == (7, 3.5)
        kwargs = pool.connection_kwargs
        assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (4.5, 1.5)
    finally:
        await client.aclose()


async def test_commands_beyond_the_pool_size_wait_for_a_connection_instead_of_failing(
    private_url: str,
) -> None:
    client = client_for(private_url, Settings(redis_max_connections=2, redis_pool_timeout_s=10))
    try:
        # each DEBUG SLEEP holds its connection for 50 ms: 10 of them need 5 turns of the pool
        started = time.monotonic()
        replies = await asyncio.gather(
            *(client.execute_command("DEBUG", "SLEEP", "0.05") for _ in range(10))
        )
        assert replies == ["OK"] * 10
        assert time.monotonic() - started >= 0.2
    finally:
        await client.aclose()


async def test_a_command_that_finds_no_connection_within_the_pool_timeout_fails_clearly(
    private_url: str,
) -> None:
    client = client_for(private_url, Settings(redis_max_connections=1, redis_pool_timeout_s=0.2))
    try:
        holder = asyncio.create_task(client.execute_command("DEBUG", "SLEEP", "1"))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(RedisConnectionError, match="No connection available"):
            await client.ping()
        assert time.monotonic() - started < 0.6
        await holder
    finally:
        await client.aclose()
