"""Helpers shared by the script tests."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

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


async def wake_messages(store: Store, action: Callable[[], Awaitable[Any]]) -> list[str]:
    """Topic names published on the wake channel while ``action`` runs, in order."""
    pubsub = store.redis.pubsub()
    await pubsub.subscribe(store.keys.wake_channel)
    try:
        await action()
        await store.redis.publish(store.keys.wake_channel, END)
        seen: list[str] = []
        while True:
            msg = await pubsub.get_message(timeout=2.0)
            assert msg is not None, "the end marker never arrived"
            if msg["type"] != "message":
                continue
            if msg["data"] == END:
                return seen
            seen.append(msg["data"])
    finally:
        await pubsub.aclose()
