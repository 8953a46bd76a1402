"""The Redis layer: the one object that holds the client. Every other component of the store
talks to Redis through it (``tests/test_layering.py`` keeps that true).

It runs the transition scripts (loaded once, called by SHA; a NOSCRIPT reply, after a restart
or a SCRIPT FLUSH, loads them all again and repeats the call) and offers the few primitives the
components need besides: a command, a batch of commands in one round trip, a SCAN, a
pub/sub subscription and a WATCH/MULTI/EXEC transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.client import NEVER_DECODE
from redis.exceptions import NoScriptError, WatchError

from redtask.broker import scripts

T = TypeVar("T")
Client = aioredis.Redis
ScriptCall = tuple[str, str, Sequence[Any]]  # script name, partition prefix, ARGV


class Transaction:
    """What a transaction body sees: ``read`` runs at once (under WATCH when keys are watched),
    ``write`` queues a command for the one MULTI/EXEC that follows the body."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self.writes: list[tuple[Any, ...]] = []

    async def read(self, *command: Any) -> Any:
        return await self._reader.execute_command(*command)

    def write(self, *command: Any) -> None:
        self.writes.append(command)


class RedisLayer:
    """The client, the scripts' SHAs and the primitives; ``Store`` builds one per client."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._sources = {name: scripts.source(name) for name in scripts.NAMES}
        self._shas = {
            name: hashlib.sha1(src.encode()).hexdigest() for name, src in self._sources.items()
        }

    # ------------------------------------------------------------------ scripts
    async def _load_scripts(self) -> None:
        """SCRIPT LOAD every script (after a NOSCRIPT: a new or flushed server)."""
        async with self.client.pipeline(transaction=False) as pipe:
            for source in self._sources.values():
                pipe.script_load(source)
            await pipe.execute()

    async def call(self, name: str, prefix: str, *args: Any) -> list[Any]:
        """EVALSHA one script on the partition ``prefix``; loads the scripts when missing."""
        try:
            reply: list[Any] = await self.client.evalsha(self._shas[name], 1, prefix, *args)
        except NoScriptError:
            await self._load_scripts()
            reply = await self.client.evalsha(self._shas[name], 1, prefix, *args)
        return reply

    async def call_many(self, calls: Sequence[ScriptCall]) -> list[Any]:
        """Several script calls in one round trip; a failed call's reply is its exception."""
        replies: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in range(2):
            async with self.client.pipeline(transaction=False) as pipe:
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

    # ------------------------------------------------------------------ commands
    async def execute(self, *command: Any) -> Any:
        """One command, e.g. ``execute("HGETALL", key)``; replies are parsed as redis-py does."""
        return await self.client.execute_command(*command)  # type: ignore[no-untyped-call]

    async def execute_many(self, commands: Iterable[Sequence[Any]]) -> list[Any]:
        """Several commands in one round trip (a pipeline, not a transaction)."""
        async with self.client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            return await pipe.execute()

    async def execute_bytes(self, *command: Any) -> Any:
        """One command whose reply stays bytes (the client decodes replies as text)."""
        options = {NEVER_DECODE: True}
        return await self.client.execute_command(*command, **options)  # type: ignore[no-untyped-call]

    async def scan(self, pattern: str, count: int) -> AsyncIterator[str]:
        """The keys matching ``pattern`` (SCAN: a key present for the whole walk is seen)."""
        async for key in self.client.scan_iter(match=pattern, count=count):
            yield key

    async def subscribe(self, channel: str) -> AsyncIterator[str]:
        """Messages published on ``channel`` until cancelled; raises when the link is lost."""
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel)
            async for message in pubsub.listen():
                if message["type"] == "message":
                    yield str(message["data"])
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # untyped before redis 8.2

    async def transaction(
        self, watch: Sequence[str], body: Callable[[Transaction], Awaitable[T]]
    ) -> T:
        """Run ``body`` with its reads under WATCH of ``watch``, then its writes in one
        MULTI/EXEC; when a watched key changed meanwhile, run ``body`` again."""
        async with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    if watch:
                        await pipe.watch(*watch)
                    tx = Transaction(pipe if watch else self.client)
                    result = await body(tx)
                    if tx.writes:
                        pipe.multi()  # type: ignore[no-untyped-call, unused-ignore]
                        for command in tx.writes:
                            pipe.execute_command(*command)
                        await pipe.execute()
                    return result
                except WatchError:
                    await pipe.reset()  # type: ignore[no-untyped-call, unused-ignore]
                    continue

    async def ping(self) -> bool:
        return bool(await self.client.ping())

    async def close(self) -> None:
        await self.client.aclose()
