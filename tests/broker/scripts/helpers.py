"""Helpers shared by the script tests."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio.cluster import RedisCluster

from redtask.broker.store import Store

END = "--end-of-test--"


def ids_in_partition(store: Store, n: int, partition: int = 0) -> list[str]:
    """``n`` fresh task ids that all land in ``partition`` (so ordering is exact)."""
    out: list[str] = []
    while len(out) < n:
        candidate = str(uuid.uuid4())
        if store.keys.partition_of(candidate) == partition:
            out.append(candidate)
    return out


def id_outside_partition(store: Store, partition: int) -> str:
    while True:
        candidate = str(uuid.uuid4())
        if store.keys.partitions == 1 or store.keys.partition_of(candidate) != partition:
            return candidate


async def settle(store: Store, pubsub: Any) -> list[str]:
    """The wake-ups delivered until every one published so far has arrived: a marker is
    published on every master (in a cluster a message published on another node than the
    subscriber's comes over the cluster bus, in order after that node's earlier ones, but in
    no order with the other nodes'; one server: one marker)."""
    client = store.redis
    if isinstance(client, RedisCluster):
        for node in client.get_primaries():
            await client.publish(store.keys.wake_channel, END, target_nodes=node)
        markers = len(client.get_primaries())
    else:
        await client.publish(store.keys.wake_channel, END)
        markers = 1
    seen: list[str] = []
    while markers:
        msg = await pubsub.get_message(timeout=5.0)
        assert msg is not None, "the end marker never arrived"
        if msg["type"] != "message":
            continue
        if msg["data"] == END:
            markers -= 1
        else:
            seen.append(msg["data"])
    return seen


async def wake_messages(store: Store, action: Callable[[], Awaitable[Any]]) -> list[str]:
    """Topic names published on the wake channel while ``action`` runs, in order (wake-ups
    published before, still on their way in a cluster, are left out)."""
    pubsub = store.redis.pubsub()
    await pubsub.subscribe(store.keys.wake_channel)
    try:
        await settle(store, pubsub)
        await action()
        return await settle(store, pubsub)
    finally:
        await pubsub.aclose()
