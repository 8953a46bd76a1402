"""The Redis layer: the one object that holds the client. Every other component of the store
talks to Redis through it (``tests/test_layering.py`` keeps that true).

It runs the transition scripts (loaded once, called by SHA; a NOSCRIPT reply, after a restart,
a SCRIPT FLUSH or a failover to a replica that lacks them, loads them all again, on every
master, and repeats the call) and offers the few primitives the components need besides: a
command, a batch of commands in one round trip, a SCAN, a pub/sub subscription and a
WATCH/MULTI/EXEC transaction.

The client is one server's (standalone or a Sentinel service's master) or a Redis Cluster's.
In a cluster every script call goes to the master owning its partition's slot, a batch is sent
as one pipeline per node, a SCAN of one partition walks only the node owning its slot, and a
transaction's keys share one hash tag. Nothing here sends a command whose keys span two slots.

With ``wait_replicas`` N > 0 every state change (script call, transaction) is followed by
``WAIT N timeout`` on the same connection; fewer acknowledgements than N within the timeout
raise ``ReplicationTimeout`` (a 503: the change is applied on the master but not confirmed).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar, cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.client import NEVER_DECODE
from redis.exceptions import AskError, NoScriptError, RedisError, ResponseError, WatchError

from redtask.broker import scripts
from redtask.broker.pipelined import PipelinedConnection

T = TypeVar("T")
Client = aioredis.Redis | RedisCluster
ScriptCall = tuple[str, str, Sequence[Any]]  # script name, partition prefix, ARGV


class ReplicationTimeout(RedisError):
    """A state change was applied on the master but fewer replicas than required confirmed it
    within the timeout (``REDTASK_WAIT_REPLICAS``)."""

    def __init__(self, wanted: int, acknowledged: int, timeout_ms: int) -> None:
        super().__init__(
            f"{acknowledged} of {wanted} replicas confirmed the change within {timeout_ms} ms"
        )


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

    def __init__(
        self, client: Client, wait_replicas: int = 0, wait_replicas_timeout_ms: int = 1_000
    ) -> None:
        self.client = client
        self.cluster = isinstance(client, RedisCluster)
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_replicas_timeout_ms
        self._sources = {name: scripts.source(name) for name in scripts.NAMES}
        self._shas = {
            name: hashlib.sha1(src.encode()).hexdigest() for name, src in self._sources.items()
        }
        # script calls of a standalone server share one auto-pipelining connection; a state
        # change that must wait for replicas runs WAIT on redis-py's connection instead
        self.lane = None if wait_replicas else PipelinedConnection.for_client(client)

    # ------------------------------------------------------------------ scripts
    async def _load_scripts(self) -> None:
        """SCRIPT LOAD every script (after a NOSCRIPT: a new, flushed or promoted server);
        in a cluster on every master."""
        if isinstance(self.client, RedisCluster):
            for source in self._sources.values():
                await self.client.script_load(source)  # redis-py sends it to every primary
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for source in self._sources.values():
                pipe.script_load(source)
            await pipe.execute()

    async def call(self, name: str, prefix: str, *args: Any) -> list[Any]:
        """EVALSHA one script on the partition ``prefix``; loads the scripts when missing."""
        if self.wait_replicas:
            reply = (await self.call_many([(name, prefix, args)]))[0]
            if isinstance(reply, Exception):
                raise reply
            return cast(list[Any], reply)
        lane = self.lane
        if lane is not None:
            command = ("EVALSHA", self._shas[name], 1, prefix, *args)
            try:
                return cast(list[Any], await lane.execute(*command))
            except NoScriptError:
                await self._load_scripts()
                return cast(list[Any], await lane.execute(*command))
        try:
            reply = await self.client.evalsha(self._shas[name], 1, prefix, *args)
        except NoScriptError:
            await self._load_scripts()
            reply = await self.client.evalsha(self._shas[name], 1, prefix, *args)
        return cast(list[Any], reply)

    async def call_many(self, calls: Sequence[ScriptCall]) -> list[Any]:
        """Several script calls in one round trip (in a cluster, one per node); a failed
        call's reply is its exception."""
        if len(calls) == 1 and not self.wait_replicas:
            try:  # one call: no pipeline (it costs several times a plain command)
                return [await self.call(*calls[0][:2], *calls[0][2])]
            except ResponseError as exc:
                return [exc]
        replies: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in range(2):
            commands = [self._evalsha(calls[i]) for i in todo]
            if self.lane is not None:
                got = await self.lane.execute_many(commands)
            elif self.wait_replicas:
                got = await self._replicated(commands)
            else:
                got = await self._batch(commands)
            for i, reply in zip(todo, got, strict=True):
                replies[i] = reply
            # a NOSCRIPT reply means that call did not run: load the scripts, run it again
            todo = [i for i in todo if isinstance(replies[i], NoScriptError)]
            if not todo or attempt:
                break
            await self._load_scripts()
        return replies

    def _evalsha(self, call: ScriptCall) -> tuple[Any, ...]:
        name, prefix, args = call
        return ("EVALSHA", self._shas[name], 1, prefix, *args)

    async def _batch(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Commands in one pipeline (a cluster pipeline sends one per node); an error reply
        is returned in its place."""
        async with self.client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            return await pipe.execute(raise_on_error=False)

    # ------------------------------------------------------------------ replication
    async def _replicated(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Script calls (``EVALSHA sha 1 prefix …``), each followed on its connection by
        ``WAIT``: one connection per server (in a cluster, per partition, concurrently).
        A call whose changes too few replicas confirmed is answered ``ReplicationTimeout``."""
        if not isinstance(self.client, RedisCluster):
            return await self._then_wait(None, commands)
        groups: dict[str, list[int]] = {}
        for i, command in enumerate(commands):
            groups.setdefault(str(command[3]), []).append(i)
        results = await asyncio.gather(
            *(self._then_wait(p, [commands[i] for i in idx]) for p, idx in groups.items())
        )
        replies: list[Any] = [None] * len(commands)
        for idx, got in zip(groups.values(), results, strict=True):
            for i, reply in zip(idx, got, strict=True):
                replies[i] = reply
        return replies

    async def _then_wait(
        self, slot_key: str | None, commands: Sequence[Sequence[Any]]
    ) -> list[Any]:
        wait = ("WAIT", self.wait_replicas, self.wait_timeout_ms)
        if slot_key is None:
            got = await self._batch([*commands, wait])
        else:
            got = await self._on_slot_master(slot_key, [*commands, wait])
        *replies, acknowledged = got
        if isinstance(acknowledged, Exception):
            raise acknowledged
        if int(acknowledged) < self.wait_replicas:
            short = ReplicationTimeout(self.wait_replicas, int(acknowledged), self.wait_timeout_ms)
            return [r if isinstance(r, Exception) else short for r in replies]
        return replies

    async def _on_slot_master(self, slot_key: str, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Commands pipelined on one connection to the master owning ``slot_key``'s slot (a
        cluster's routing would send the keyless WAIT elsewhere). After a MOVED or ASK reply,
        which runs nothing, the topology is refreshed and the commands are sent once more."""
        client = cast(RedisCluster, self.client)
        for attempt in range(2):
            node = client.get_node_from_key(slot_key)
            if node is None:  # pragma: no cover - a key always maps to a slot's node
                raise RedisError(f"no cluster node serves {slot_key}")
            connection = node.acquire_connection()
            try:
                await node.disconnect_if_needed(connection)
                await connection.send_packed_command(connection.pack_commands(commands))
                replies: list[Any] = []
                for _ in commands:
                    try:
                        replies.append(await connection.read_response())
                    except ResponseError as exc:
                        replies.append(exc)
            except BaseException as exc:
                await connection.disconnect()
                node.release(connection)
                if isinstance(exc, (RedisError, OSError)):
                    await self._refresh_slots(slot_key)
                raise
            node.release(connection)
            if attempt or not any(isinstance(r, AskError) for r in replies):
                break
            await self._refresh_slots(slot_key)
        return replies

    async def _refresh_slots(self, slot_key: str) -> None:
        """Have the cluster client learn the current slot map (after a redirection or a lost
        node): a routed command follows MOVED and refreshes the map on connection errors."""
        with contextlib.suppress(RedisError, OSError):
            await cast(RedisCluster, self.client).execute_command("EXISTS", slot_key)

    async def replicate_slot(self, slot_key: str, marker_key: str, value: Any) -> None:
        """Wait for the replicas to confirm every change made so far in ``slot_key``'s slot
        (for changes not made by a script, e.g. a transaction): one write of ``marker_key``
        (same slot) and WAIT on its connection; the replication stream is ordered, so the
        replicas that have the marker have everything written before it."""
        if not self.wait_replicas:
            return
        commands = [("SET", marker_key, value)]
        if isinstance(self.client, RedisCluster):
            replies = await self._then_wait(slot_key, commands)
        else:
            replies = await self._then_wait(None, commands)
        if isinstance(replies[0], Exception):
            raise replies[0]

    # ------------------------------------------------------------------ commands
    async def execute(self, *command: Any) -> Any:
        """One command, e.g. ``execute("HGETALL", key)``; replies are parsed as redis-py does."""
        return await self.client.execute_command(*command)  # type: ignore[no-untyped-call, unused-ignore]

    async def execute_many(self, commands: Iterable[Sequence[Any]]) -> list[Any]:
        """Several commands in one round trip (a pipeline, not a transaction; in a cluster
        one per node). Each command's keys must share a slot."""
        async with self.client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            return await pipe.execute()

    async def execute_bytes(self, *command: Any) -> Any:
        """One command whose reply stays bytes (the client decodes replies as text)."""
        options = {NEVER_DECODE: True}
        return await self.client.execute_command(*command, **options)  # type: ignore[no-untyped-call, unused-ignore]

    async def scan(
        self, pattern: str, count: int, slot_key: str | None = None
    ) -> AsyncIterator[str]:
        """The keys matching ``pattern`` (SCAN: a key present for the whole walk is seen). In
        a cluster: on the master owning ``slot_key``'s slot when given (a pattern within one
        hash tag), else on every master."""
        if isinstance(self.client, RedisCluster):
            nodes = (
                [self.client.get_node_from_key(slot_key)]
                if slot_key is not None
                else self.client.get_primaries()
            )
            for node in nodes:
                async for key in self.client.scan_iter(
                    match=pattern,
                    count=count,
                    target_nodes=node,  # type: ignore[call-arg, unused-ignore]
                ):
                    yield key
            return
        async for key in self.client.scan_iter(match=pattern, count=count):
            yield key

    async def subscribe(self, channel: str) -> AsyncIterator[str]:
        """Messages published on ``channel`` until cancelled; raises when the link is lost.
        In a cluster the subscription is on one node: a classic PUBLISH on any node reaches
        every node's subscribers."""
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
        MULTI/EXEC; when a watched key changed meanwhile, run ``body`` again. Every key
        watched, read or written must share one hash tag (one slot in a cluster)."""
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
                        if self.wait_replicas:
                            await self._replicate_writes(tx.writes)
                    return result
                except WatchError:
                    await pipe.reset()  # type: ignore[no-untyped-call, unused-ignore]
                    continue

    async def _replicate_writes(self, writes: Sequence[tuple[Any, ...]]) -> None:
        """WAIT for the replicas after a transaction: a marker ``{tag}:sync`` in the hash tag
        of its first written key carries the wait (``replicate_slot``)."""
        key = str(writes[0][1])
        start = key.find("{")
        end = key.find("}", start + 1)
        # a key without a tag hashes as a whole, as "{key}" does
        tag = key[start : end + 1] if start >= 0 and end > start + 1 else "{" + key + "}"
        await self.replicate_slot(key, f"{tag}:sync", "1")

    async def ping(self) -> bool:
        return bool(await self.client.ping())

    async def close(self) -> None:
        if self.lane is not None:
            self.lane.close()
        await self.client.aclose()
