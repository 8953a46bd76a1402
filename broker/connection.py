"""Opening a Redis connection the broker can trust: no eviction, fixed partition count.

``client_for`` builds the client the URL names (``broker.redis_url``): one server, a Redis
Cluster (``RedisCluster``: each command goes to the node owning its key's slot) or the master
of a Sentinel service (``Sentinel.master_for``: the master's address is asked of the sentinels
again after a failover). Every process (gateway, scheduler, direct-Redis worker, RQ bridge,
``redtask up``) connects through here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import (
    ClusterError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TryAgainError,
    WatchError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from redtask.broker.errors import ConfigurationError
from redtask.broker.keys import TAG_SCHEMES, Keys, TagScheme
from redtask.broker.redis_layer import Client, ReplicationTimeout
from redtask.broker.redis_url import parse_redis_url, redis_address
from redtask.broker.settings import Settings

log = logging.getLogger(__name__)

SAFE_POLICIES = frozenset({"noeviction"})
# what a lost or restarting Redis raises; long-running loops catch these and retry
BACKEND_ERRORS: tuple[type[Exception], ...] = (RedisError, RedisClusterException, OSError)
# the subset that means "Redis cannot be reached right now" (not a failing command or script):
# also a cluster or Sentinel failover in progress (CLUSTERDOWN, TRYAGAIN, a master demoted to
# a read-only replica, slots not covered yet) and a state change its replicas did not confirm
UNREACHABLE_ERRORS: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    ClusterError,
    TryAgainError,
    ReadOnlyError,
    RedisClusterException,
    ReplicationTimeout,
)


def client_for(url: str, settings: Settings | None = None) -> Client:
    """An asyncio client of the topology ``url`` names (hiredis parser when installed) with
    string replies. Raises ConfigurationError for a malformed URL.

    Connect and socket timeouts bound every command, so a paused or unreachable server makes
    requests fail (503) rather than hang. Pub/sub listening blocks without the socket timeout.
    One server: the pool is a blocking one: when every connection is busy a command waits up
    to ``redis_pool_timeout_s`` for one (then ConnectionError, a 503) instead of failing at
    once. A cluster keeps up to ``redis_max_connections`` per node.
    """
    settings = settings or Settings()
    target = parse_redis_url(url)
    common: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": settings.redis_socket_timeout_s,
        "socket_connect_timeout": settings.redis_connect_timeout_s,
    }
    if target.mode == "cluster":
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in target.hosts],
            max_connections=settings.redis_max_connections,
            ssl=target.tls,
            username=target.username,
            password=target.password,
            **common,
        )
    if target.mode == "sentinel":
        assert target.service is not None
        sentinel = Sentinel(
            list(target.hosts),
            sentinel_kwargs={
                "socket_timeout": settings.redis_socket_timeout_s,
                "socket_connect_timeout": settings.redis_connect_timeout_s,
                "ssl": target.tls,
            },
        )
        master = sentinel.master_for(
            target.service,
            db=target.db,
            ssl=target.tls,
            max_connections=settings.redis_max_connections,
            username=target.username,
            password=target.password,
            **common,
        )
        return cast(aioredis.Redis, master)
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout_s,
        socket_timeout=settings.redis_socket_timeout_s,
        socket_connect_timeout=settings.redis_connect_timeout_s,
    )
    return aioredis.Redis.from_pool(pool)


async def check_eviction_policy(client: Client, url: str) -> None:
    """Refuse a server (in a cluster: any master) whose maxmemory-policy may evict keys."""
    try:
        if isinstance(client, RedisCluster):
            replies: Any = await client.config_get(
                "maxmemory-policy",
                target_nodes=RedisCluster.PRIMARIES,  # type: ignore[call-arg, unused-ignore]
            )
            # one node answers with its reply, several with {node name: reply}
            policies = [
                r.get("maxmemory-policy", "noeviction")
                for r in (replies.values() if "maxmemory-policy" not in replies else [replies])
            ]
        else:
            reply = await client.config_get("maxmemory-policy")
            policies = [reply.get("maxmemory-policy", "noeviction")]
    except ResponseError as exc:  # CONFIG disabled or renamed (managed services)
        log.warning(
            "cannot read maxmemory-policy of %s (%s); make sure it is noeviction",
            redis_address(url),
            exc,
        )
        return
    policy = next((p for p in policies if p not in SAFE_POLICIES), None)
    if policy is not None:
        raise ConfigurationError(
            f"Redis at {redis_address(url)} has maxmemory-policy '{policy}', which can evict "
            "task data. "
            "Set it to 'noeviction' (redis.conf: `maxmemory-policy noeviction`, or run "
            "`redis-cli CONFIG SET maxmemory-policy noeviction`) and start again."
        )


STARTUP_RETRY_S = 0.5


async def connect(
    url: str, keys: Keys, settings: Settings | None = None, wait_s: float = 0.0
) -> tuple[Client, Keys]:
    """A client of ``url`` after checking the server is safe to use (closed if it is not), and
    the namespace's keys with the hash-tag scheme recorded for it (``ensure_partitions``).

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
                return client, await ensure_partitions(client, keys)
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


async def ensure_partitions(client: Client, keys: Keys) -> Keys:
    """Record the partition count and the hash-tag scheme of ``keys`` on first use; refuse a
    different count later. Returns ``keys`` with the scheme recorded for the namespace: a
    namespace created before schemes were recorded has none and keeps ``legacy`` tags (its
    keys keep their names, so its data stays readable)."""
    stored_count, scheme = await _record_config(client, keys)
    stored = int(stored_count)
    if stored != keys.partitions:
        raise ConfigurationError(
            f"namespace '{keys.namespace}' already holds data with {stored} partitions; "
            f"the partition count cannot change (configured: {keys.partitions}). "
            f"Set REDTASK_PARTITIONS={stored}."
        )
    if scheme is None:
        tags: TagScheme = "legacy"
    elif scheme in TAG_SCHEMES:
        tags = scheme
    else:
        raise ConfigurationError(f"namespace '{keys.namespace}' records unknown tags {scheme!r}")
    return keys if tags == keys.tags else Keys(keys.namespace, keys.partitions, tags)


async def _record_config(client: Client, keys: Keys) -> tuple[str, str | None]:
    """The stored partition count and tag scheme, writing ``keys``' own when there are none
    (WATCH/MULTI/EXEC on the one config key: two processes starting at once agree)."""
    async with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(keys.config)
                stored, scheme = await pipe.hmget(keys.config, ["partitions", "tags"])
                if stored is not None:
                    return str(stored), None if scheme is None else str(scheme)
                pipe.multi()  # type: ignore[no-untyped-call, unused-ignore]
                pipe.hset(keys.config, mapping={"partitions": keys.partitions, "tags": keys.tags})
                await pipe.execute()
                return str(keys.partitions), keys.tags
            except WatchError:
                continue
