"""Startup safety: eviction policy, fixed partition count, and the key schema in Lua and Python."""

from __future__ import annotations

import pytest

from redtask.broker import scripts
from redtask.broker.connection import check_eviction_policy, client_for, ensure_partitions
from redtask.broker.errors import ConfigurationError
from redtask.broker.keys import Keys
from redtask.broker.settings import Settings
from redtask.broker.store import open_store


async def test_a_redis_that_can_evict_keys_is_refused_with_the_fix_in_the_message(
    redis_url: str,
) -> None:
    client = client_for(redis_url)
    await client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        with pytest.raises(ConfigurationError) as info:
            await check_eviction_policy(client, redis_url)
        assert "maxmemory-policy 'allkeys-lru'" in str(info.value)
        assert "CONFIG SET maxmemory-policy noeviction" in str(info.value)
        with pytest.raises(ConfigurationError):
            await open_store(Settings(redis_url=redis_url, namespace="evict"))
    finally:
        await client.config_set("maxmemory-policy", "noeviction")
        await client.aclose()


async def test_noeviction_is_accepted(redis_url: str) -> None:
    client = client_for(redis_url)
    try:
        await check_eviction_policy(client, redis_url)
    finally:
        await client.aclose()


async def test_the_partition_count_is_fixed_once_recorded(redis_url: str, namespace: str) -> None:
    client = client_for(redis_url)
    try:
        await ensure_partitions(client, Keys(namespace, 4))
        await ensure_partitions(client, Keys(namespace, 4))
        with pytest.raises(ConfigurationError, match="REDTASK_PARTITIONS=4"):
            await ensure_partitions(client, Keys(namespace, 2))
        assert await client.hget(f"{namespace}:config", "partitions") == "4"
    finally:
        await client.delete(f"{namespace}:config")
        await client.aclose()


async def test_lua_and_python_build_the_same_key_names(redis_url: str) -> None:
    keys = Keys("ns", 4)
    p = 3
    prefix = keys.prefix(p)
    lua = (
        scripts.source("_keys")
        + """
local P = KEYS[1]
return {k_task(P, 'id1'), k_avail(P, 'tp', '-5'), k_levels(P, 'tp'), k_locked(P, 'tp'),
        k_retry(P, 'tp'), k_xtasks(P, 'tp'), k_topics(P), k_sweep(P), k_incident(P, 'i1'),
        k_incidents(P), k_done(P)}
"""
    )
    client = client_for(redis_url)
    try:
        got = await client.eval(lua, 1, prefix)
    finally:
        await client.aclose()
    task_key = f"{prefix}t:id1"
    assert got == [
        task_key,
        keys.avail(p, "tp", -5),
        keys.avail_levels(p, "tp"),
        keys.locked(p, "tp"),
        keys.retry(p, "tp"),
        keys.incident_tasks(p, "tp"),
        keys.topics(p),
        keys.sweep(p),
        keys.incident(p, "i1"),
        keys.incidents(p),
        keys.done(p),
    ]
    assert keys.task_pattern(p) == f"{prefix}t:*"
