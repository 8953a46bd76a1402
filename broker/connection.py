"""Opening a Redis connection the broker can trust: no eviction, fixed partition count."""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from redtask.broker.errors import ConfigurationError
from redtask.broker.keys import Keys
from redtask.broker.settings import Settings, redis_address

log = logging.getLogger(__name__)

SAFE_POLICIES = frozenset({"noeviction"})
# what a lost or restarting Redis raises; long-running loops catch these and retry
BACKEND_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError)
# the subset that means "Redis cannot be reached right now" (not a failing command or script)
UNREACHABLE_ERRORS: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
)


def client_for(url: str, settings: Settings | None = None) -> aioredis.Redis:
    """An asyncio client (hiredis parser when installed) with string replies.

    Its pool is a blocking one: when every connection is busy a command waits up to
    ``redis_pool_timeout_s`` for one (then ConnectionError, a 503) instead of failing at once.
    Connect and socket timeouts bound every command, so a paused or unreachable server makes
    requests fail (503) rather than hang. Pub/sub listening blocks without the socket timeout.
    """
    settings = settings or Settings()
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout_s,
        socket_timeout=settings.redis_socket_timeout_s,
        socket_connect_timeout=settings.redis_connect_timeout_s,
    )
    return aioredis.Redis.from_pool(pool)


async def check_eviction_policy(client: aioredis.Redis, url: str) -> None:
    """Refuse a server whose maxmemory-policy may evict keys (tasks would vanish)."""
    try:
        reply = await client.config_get("maxmemory-policy")
    except ResponseError as exc:  # CONFIG disabled or renamed (managed services)
        log.warning("cannot read maxmemory-policy of %s (%s); make sure it is noeviction", url, exc)
        return
    policy = reply.get("maxmemory-policy", "noeviction")
    if policy not in SAFE_POLICIES:
        raise ConfigurationError(
            f"Redis at {url} has maxmemory-policy '{policy}', which can evict task data. "
            "Set it to 'noeviction' (redis.conf: `maxmemory-policy noeviction`, or run "
            "`redis-cli CONFIG SET maxmemory-policy noeviction`) and start again."
        )


STARTUP_RETRY_S = 0.5


async def connect(
    url: str, keys: Keys, settings: Settings | None = None, wait_s: float = 0.0
) -> aioredis.Redis:
    """A client of ``url`` after checking the server is safe to use (closed if it is not).

    A Redis that cannot be reached (restarting, failing over, not scheduled yet) is retried
    every half second for ``wait_s`` seconds; the last error is raised after that.
    Raises ConfigurationError for an evicting server or a different partition count.
    """
    settings = settings or Settings()
    client = client_for(url, settings)
    deadline = time.monotonic() + wait_s
    warned = False
    try:
        while True:
            try:
                await check_eviction_policy(client, url)
                await ensure_partitions(client, keys)
                return client
            except UNREACHABLE_ERRORS as exc:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise
                if not warned:
                    log.warning(
                        "cannot reach Redis at %s (%s); retrying for up to %g s",
                        redis_address(url),
                        exc,
                        wait_s,
                    )
                    warned = True
                await asyncio.sleep(min(STARTUP_RETRY_S, left))
    except BaseException:
        await client.aclose()
        raise


async def ensure_partitions(client: aioredis.Redis, keys: Keys) -> None:
    """Record the partition count on first use; refuse a different count later."""
    await client.hsetnx(keys.config, "partitions", keys.partitions)
    stored = int(str(await client.hget(keys.config, "partitions")))
    if stored != keys.partitions:
        raise ConfigurationError(
            f"namespace '{keys.namespace}' already holds data with {stored} partitions; "
            f"the partition count cannot change (configured: {keys.partitions}). "
            f"Set REDTASK_PARTITIONS={stored}."
        )
