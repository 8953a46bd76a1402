"""One auto-pipelining connection for the transition scripts of a standalone Redis.

redis-py's asyncio client checks a connection out of its pool, arms two or three timers and
turns the event loop four or five times for every command: about 40 µs of CPU per call on
top of the round trip, the largest single cost of a fetchAndLock or a complete. This
connection is shared by every caller: a command is written at once (the commands of
concurrent callers leave in one segment when the loop flushes), or, from a task that asked
for it (``coalesce_writes``), at the end of the event loop's turn together with the other
coalesced commands of that turn; replies are parsed by hiredis as they arrive and handed, in
order, to the futures waiting for them.

It keeps redis-py's contract for the calls it carries: the same exception classes (error
replies parsed by redis-py's own ``parse_error``: NOSCRIPT is a ``NoScriptError``, READONLY a
``ReadOnlyError`` ...), ``ConnectionError`` when the link is lost (every waiting call fails
with it; the next call connects again), ``TimeoutError`` when calls are waiting and nothing
has arrived for ``socket_timeout`` (the connection is then dropped, as redis-py drops one
that timed out). It speaks RESP2 to a plain TCP or Unix socket with AUTH, SELECT and CLIENT
SETNAME as redis-py sends them; ``for_client`` returns None for anything else (TLS, Sentinel,
a cluster, RESP3, credential providers), which keeps redis-py's path.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
from contextvars import ContextVar
from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis._parsers.base import BaseParser
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

_coalescing: ContextVar[bool] = ContextVar("redtask_coalesced_writes", default=False)


def coalesce_writes() -> None:
    """From now on in the calling task (and in the tasks it starts): script calls on a
    pipelined connection are written at the end of the event loop's turn, in one write with
    every other coalesced call of that turn, and Redis answers them with one. For callers that
    send in bursts from several tasks (a worker lane's commit and its fetch-ahead); everyone
    else's calls are written at once, as a turn of a busy server can be long."""
    _coalescing.set(True)


# what a pool's connection_kwargs may hold for this connection to stand in for redis-py's
_UNDERSTOOD = frozenset(
    {
        "host",
        "port",
        "path",
        "db",
        "username",
        "password",
        "client_name",
        "socket_timeout",
        "socket_connect_timeout",
        "decode_responses",
        "encoding",
        "encoding_errors",
    }
)
# redis-py's own bookkeeping in connection_kwargs, no effect on the wire
_BOOKKEEPING = frozenset(
    {
        "himport_registry",
        "maint_notifications_pool_handler",
        "maint_notifications_config",
        "orig_host_address",
        "orig_socket_timeout",
        "orig_socket_connect_timeout",
    }
)


class _Protocol(asyncio.Protocol):
    """Feeds received bytes to the owner's parser; reports a lost link."""

    def __init__(self, owner: PipelinedConnection) -> None:
        self.owner = owner

    def data_received(self, data: bytes) -> None:
        self.owner._received(self, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._lost(self, exc)


class PipelinedConnection:
    """See the module's docstring. ``execute`` sends one command, ``execute_many`` several in
    one write; both return error replies as ``ResponseError`` instances (``execute`` raises
    them)."""

    def __init__(
        self,
        *,
        host: str = "localhost",
        port: int = 6379,
        path: str | None = None,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        client_name: str | None = None,
        socket_timeout: float | None = None,
        socket_connect_timeout: float | None = None,
        encoding: str | None = "utf-8",
        encoding_errors: str = "strict",
    ) -> None:
        self.host, self.port, self.path = host, port, path
        self.where = path if path is not None else f"{host}:{port}"
        self.handshake: list[tuple[Any, ...]] = []
        if password is not None:
            auth = ("AUTH", username, password) if username else ("AUTH", password)
            self.handshake.append(auth)
        if client_name:
            self.handshake.append(("CLIENT", "SETNAME", client_name))
        if db:
            self.handshake.append(("SELECT", db))
        self.socket_timeout = socket_timeout
        self.connect_timeout = socket_connect_timeout or socket_timeout
        self._reader_options: dict[str, Any] = {
            "protocolError": InvalidResponse,
            "replyError": BaseParser.parse_error,
        }
        if encoding is not None:
            self._reader_options.update(encoding=encoding, errors=encoding_errors)
        self._transport: asyncio.Transport | None = None
        self._protocol: _Protocol | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader = hiredis.Reader(**self._reader_options)
        self._waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        # coalesced commands (see coalesce_writes) of this turn of the event loop
        self._unsent: list[bytes] = []
        self._connecting: asyncio.Future[None] | None = None
        self._deferred: set[asyncio.Task[None]] = set()  # sends waiting for a connection
        self._last_read = 0.0
        self._watchdog: asyncio.TimerHandle | None = None

    @classmethod
    def for_client(cls, client: Any) -> PipelinedConnection | None:
        """One for ``client``'s server when it is a plain standalone (TCP or Unix socket)
        RESP2 connection this class fully stands in for, else None."""
        if type(client) is not aioredis.Redis:
            return None
        pool = client.connection_pool
        if pool.connection_class not in (Connection, UnixDomainSocketConnection):
            return None
        options = {k: v for k, v in pool.connection_kwargs.items() if k not in _BOOKKEEPING}
        if not set(options) <= _UNDERSTOOD:  # e.g. protocol=3, a credential provider
            return None
        if not options.pop("decode_responses", False):
            options["encoding"] = None
        return cls(**options)

    # ------------------------------------------------------------------ calls
    async def execute(self, *command: Any) -> Any:
        """One command's reply; an error reply is raised."""
        reply = await _settled(self._send([command]))
        if isinstance(reply[0], ResponseError):
            raise reply[0]
        return reply[0]

    async def execute_many(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """The replies of ``commands``, sent in one write; an error reply stands in its place."""
        return await _settled(self._send(commands))

    def _send(self, commands: list[tuple[Any, ...]]) -> list[asyncio.Future[Any]]:
        loop = asyncio.get_running_loop()
        if self._transport is None or self._loop is not loop or self._transport.is_closing():
            return self._send_after_connect(loop, commands)
        data = b"".join([hiredis.pack_command(c) for c in commands])
        futures = [loop.create_future() for _ in commands]
        if not self._waiting:
            self._last_read = loop.time()
            self._arm_watchdog(loop)
        self._waiting.extend(futures)
        if _coalescing.get():
            if not self._unsent:
                loop.call_soon(self._flush)
            self._unsent.append(data)
        else:
            if self._unsent:  # commands sent before these leave before them
                data, self._unsent = b"".join([*self._unsent, data]), []
            self._transport.write(data)
        return futures

    def _flush(self) -> None:
        """Write the coalesced commands of the last turn of the event loop, in one write."""
        data, self._unsent = b"".join(self._unsent), []
        if data and self._transport is not None:
            self._transport.write(data)

    def _send_after_connect(
        self, loop: asyncio.AbstractEventLoop, commands: list[tuple[Any, ...]]
    ) -> list[asyncio.Future[Any]]:
        """Futures for ``commands`` sent once a connection is up (one connect for all
        callers meanwhile)."""
        futures = [loop.create_future() for _ in commands]

        async def later() -> None:
            try:
                await self._connect(loop)
                sent = self._send(commands)
            except BaseException as exc:
                for f in futures:
                    if not f.done():
                        f.set_exception(exc)
                return
            for mine, theirs in zip(futures, sent, strict=True):
                _chain(theirs, mine)

        task = loop.create_task(later())
        self._deferred.add(task)
        task.add_done_callback(self._deferred.discard)
        return futures

    # ------------------------------------------------------------------ connection
    async def _connect(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._transport is not None and self._loop is loop and not self._transport.is_closing():
            return
        if self._connecting is not None and self._loop is loop and not self._connecting.done():
            await asyncio.shield(self._connecting)
            return
        self._drop(RedisConnectionError(f"Connection to {self.where} closed; reconnecting."))
        self._loop = loop
        self._connecting = loop.create_future()
        try:
            await self._open(loop)
        except BaseException as exc:
            self._drop(exc if isinstance(exc, Exception) else None)
            self._connecting.set_exception(_as_connection_error(exc, self.where))
            self._connecting.exception()  # retrieved: the waiters re-raise their own copy
            raise _as_connection_error(exc, self.where) from exc
        self._connecting.set_result(None)

    async def _open(self, loop: asyncio.AbstractEventLoop) -> None:
        protocol = _Protocol(self)
        async with asyncio.timeout(self.connect_timeout):
            if self.path is not None:
                transport, _ = await loop.create_unix_connection(lambda: protocol, self.path)
            else:
                transport, _ = await loop.create_connection(lambda: protocol, self.host, self.port)
        self._reader = hiredis.Reader(**self._reader_options)
        self._transport, self._protocol = transport, protocol
        if self.handshake:
            futures = self._send(list(self.handshake))
            async with asyncio.timeout(self.socket_timeout):
                for reply in [await f for f in futures]:
                    if isinstance(reply, Exception):
                        raise reply

    def _received(self, protocol: _Protocol, data: bytes) -> None:
        if protocol is not self._protocol:
            return
        self._last_read = self._loop.time() if self._loop is not None else 0.0
        reader = self._reader
        reader.feed(data)
        waiting = self._waiting
        try:
            while (reply := reader.gets()) is not False:
                future = waiting.popleft()
                if not future.done():  # a cancelled caller's reply is read and dropped
                    future.set_result(reply)
        except Exception as exc:  # garbage, undecodable text, a reply nobody asked for
            self._drop(RedisConnectionError(f"Protocol error from {self.where}: {exc!r}"))

    def _lost(self, protocol: _Protocol, exc: Exception | None) -> None:
        if protocol is self._protocol:
            self._drop(RedisConnectionError(f"Connection to {self.where} lost: {exc!r}"))

    def _arm_watchdog(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.socket_timeout is None or self._watchdog is not None:
            return
        self._watchdog = loop.call_at(self._last_read + self.socket_timeout, self._watch)

    def _watch(self) -> None:
        """Fail the waiting calls when nothing arrived for ``socket_timeout``."""
        self._watchdog = None
        if not self._waiting or self._loop is None or self.socket_timeout is None:
            return
        if self._loop.time() - self._last_read >= self.socket_timeout:
            self._drop(RedisTimeoutError(f"Timeout reading from {self.where}"))
            return
        self._arm_watchdog(self._loop)

    def _drop(self, error: Exception | None) -> None:
        """Close the link; every waiting call fails with ``error``."""
        transport, self._transport, self._protocol = self._transport, None, None
        if transport is not None:
            _abort(transport, self._loop)
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        waiting, self._waiting = self._waiting, collections.deque()
        self._unsent = []  # their callers fail below
        for future in waiting:
            if not future.done():
                future.set_exception(
                    error or RedisConnectionError(f"Connection to {self.where} closed")
                )

    def close(self) -> None:
        self._drop(RedisConnectionError(f"Connection to {self.where} closed"))


def _abort(transport: asyncio.Transport, loop: asyncio.AbstractEventLoop | None) -> None:
    """Close ``transport`` from any thread, also once its loop is closed."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if loop is None or loop is running:
        transport.abort()
    elif not loop.is_closed():
        loop.call_soon_threadsafe(transport.abort)
    else:  # its loop is gone: end the link; the socket closes with the transport object
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


async def _settled(futures: list[asyncio.Future[Any]]) -> list[Any]:
    """The futures' results in order; when one fails (or the caller is cancelled) the others
    are cancelled, so their replies are read and dropped."""
    try:
        return [await f for f in futures]
    except BaseException:
        for f in futures:
            if not f.done():
                f.cancel()
            elif not f.cancelled():
                f.exception()  # retrieved: only the first failure is raised
        raise


def _chain(source: asyncio.Future[Any], target: asyncio.Future[Any]) -> None:
    def copy(done: asyncio.Future[Any]) -> None:
        if target.done():
            return
        if done.cancelled():
            target.cancel()
        elif (exc := done.exception()) is not None:
            target.set_exception(exc)
        else:
            target.set_result(done.result())

    source.add_done_callback(copy)


def _as_connection_error(exc: BaseException, where: str) -> Exception:
    if isinstance(exc, RedisConnectionError | ResponseError):
        return exc
    if isinstance(exc, TimeoutError):
        return RedisTimeoutError(f"Timeout connecting to {where}")
    return RedisConnectionError(f"Error connecting to {where}: {exc!r}")
