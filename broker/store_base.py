"""The store's foundation: the Redis client, the scripts (loaded once, called by SHA), the
clock, and the connection-level operations. ``broker.store.Store`` builds the transitions on
it; together with ``broker.reads`` this is the only code that talks to Redis."""

from __future__ import annotations

import hashlib
import itertools
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from redtask.broker import scripts, validate
from redtask.broker.keys import Keys
from redtask.broker.settings import Settings

Clock = Callable[[], int]
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_LENGTH = 21
_ID_SPACE = 62**_ID_LENGTH


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class StoreBase:
    def __init__(
        self, client: aioredis.Redis, settings: Settings, clock: Clock = wall_clock_ms
    ) -> None:
        self.redis = client
        self.settings = settings
        self.keys = Keys(settings.namespace, settings.partitions)
        self.clock = clock
        self._sources = {name: scripts.source(name) for name in scripts.NAMES}
        self._shas = {
            name: hashlib.sha1(src.encode()).hexdigest() for name, src in self._sources.items()
        }
        self._rotation = itertools.count()

    # ------------------------------------------------------------------ helpers
    @property
    def _max_vars(self) -> int:
        return self.settings.max_variables_bytes

    def _vars(self, raw: Mapping[str, Any] | None) -> str:
        return validate.variables_json(raw, self._max_vars)

    def _prefix_of(self, task_id: str) -> str:
        return self.keys.prefix(self.keys.partition_of(task_id))

    def _wake(self) -> str:
        return self.keys.wake_channel

    async def _load_scripts(self) -> None:
        """SCRIPT LOAD every script (after a NOSCRIPT: a new or flushed server)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for source in self._sources.values():
                pipe.script_load(source)
            await pipe.execute()

    async def _call(self, name: str, prefix: str, *args: Any) -> list[Any]:
        """EVALSHA one script on the partition ``prefix``; loads the scripts when missing."""
        try:
            reply: list[Any] = await self.redis.evalsha(self._shas[name], 1, prefix, *args)
        except NoScriptError:
            await self._load_scripts()
            reply = await self.redis.evalsha(self._shas[name], 1, prefix, *args)
        return reply

    async def _call_many(self, calls: Sequence[tuple[str, str, Sequence[Any]]]) -> list[Any]:
        """Several script calls in one round trip; a failed call's reply is its exception."""
        replies: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in range(2):
            async with self.redis.pipeline(transaction=False) as pipe:
                for i in todo:
                    name, prefix, args = calls[i]
                    pipe.evalsha(self._shas[name], 1, prefix, *args)
                got = await pipe.execute(raise_on_error=False)
            for i, reply in zip(todo, got, strict=True):
                replies[i] = reply
            # a NOSCRIPT reply means that call did not run: load the scripts, run it again
            todo = [i for i in todo if isinstance(replies[i], NoScriptError)]
            if not todo or attempt:
                break
            await self._load_scripts()
        return replies

    def new_task_id(self) -> str:
        """A random id of 21 base62 characters (125 bits; a UUID v4 has 122).

        The id is stored twice per waiting task, in its key and in the fetchable index; at 21
        characters the index member fits the allocator's smallest chunk (16 bytes a task less
        than 26 characters, 36 less than a UUID's).
        """
        number = int.from_bytes(os.urandom(16), "big") % _ID_SPACE
        chars = []
        for _ in range(_ID_LENGTH):
            number, digit = divmod(number, 62)
            chars.append(_BASE62[digit])
        return "".join(chars)

    # ------------------------------------------------------------------ transitions

    async def heartbeat(self, scheduler_id: str, ttl_ms: int) -> None:
        """Record that a scheduler is alive (the key expires after ``ttl_ms``)."""
        await self.redis.set(self.keys.scheduler_heartbeat(scheduler_id), self.clock(), px=ttl_ms)

    async def last_heartbeat(self, scheduler_id: str) -> int | None:
        """When the scheduler last beat (ms), or None if its heartbeat expired."""
        value = await self.redis.get(self.keys.scheduler_heartbeat(scheduler_id))
        return None if value is None else int(value)

    async def wake_ups(self) -> AsyncIterator[str]:
        """Topic names as scripts make tasks fetchable, from every process (pub/sub).

        Runs until cancelled; raises a backend error when the connection is lost.
        """
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.keys.wake_channel)
            async for message in pubsub.listen():
                if message["type"] == "message":
                    yield str(message["data"])
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # untyped before redis 8.2

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def close(self) -> None:
        await self.redis.aclose()
