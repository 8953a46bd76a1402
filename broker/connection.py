"""Opening a Redis connection the broker can trust: no eviction, fixed partition count."""

from __future__ import annotations

import logging

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from redtask.broker.errors import ConfigurationError
from redtask.broker.keys import Keys

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


def client_for(url: str, **options: object) -> aioredis.Redis:
    """An asyncio client (hiredis parser when installed) with string replies."""
    return aioredis.from_url(url, decode_responses=True, **options)


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


async def connect(url: str, keys: Keys) -> aioredis.Redis:
    """A client of ``url`` after checking the server is safe to use (closed if it is not).

    Raises ConfigurationError for an evicting server or a different partition count.
    """
    client = client_for(url)
    try:
        await check_eviction_policy(client, url)
        await ensure_partitions(client, keys)
    except BaseException:
        await client.aclose()
        raise
    return client


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
