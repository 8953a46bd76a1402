"""The auto-pipelining connection the Redis layer runs scripts on (broker/pipelined.py), against
the session's real redis-server: replies reach their own callers under concurrency, errors
keep redis-py's classes, a lost link or a silent server fails the waiting calls and the next
call connects again, and the handshake (AUTH with a user, SELECT, CLIENT SETNAME) is sent."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from redtask.broker.connection import client_for
from redtask.broker.pipelined import PipelinedConnection, coalesce_writes
from redtask.broker.redis_layer import RedisLayer
from redtask.broker.settings import Settings


def lane_for(url: str, **options: object) -> PipelinedConnection:
    lane = PipelinedConnection.for_client(aioredis.Redis.from_url(url, decode_responses=True))
    assert lane is not None
    for name, value in options.items():
        setattr(lane, name, value)
    return lane


async def test_concurrent_callers_each_get_their_own_reply(redis_url: str) -> None:
    lane = lane_for(redis_url)
    key = f"pl:{uuid.uuid4().hex}"
    try:

        async def caller(i: int) -> tuple[int, list[object]]:
            await asyncio.sleep(0)
            return i, await lane.execute("EVAL", "return {ARGV[1], #ARGV}", 0, f"v{i}", "x")

        got = await asyncio.gather(*(caller(i) for i in range(300)))
        assert got == [(i, [f"v{i}", 2]) for i in range(300)]
        # commands of one caller run in order, interleaved with nobody's
        replies = await lane.execute_many([("RPUSH", key, n) for n in range(50)])
        assert replies == list(range(1, 51))
        assert await lane.execute("LRANGE", key, 0, -1) == [str(n) for n in range(50)]
    finally:
        await lane.execute("DEL", key)
        lane.close()


async def test_error_replies_keep_redis_pys_classes(redis_url: str) -> None:
    lane = lane_for(redis_url)
    try:
        with pytest.raises(NoScriptError):
            await lane.execute("EVALSHA", "0" * 40, 0)
        with pytest.raises(ResponseError, match="unknown command"):
            await lane.execute("NOSUCHCOMMAND")
        replies = await lane.execute_many([("PING",), ("EVALSHA", "0" * 40, 0), ("ECHO", "é")])
        assert replies[0] == "PONG" and replies[2] == "é"
        assert type(replies[1]) is NoScriptError
        # the connection is still in step after the errors
        assert await lane.execute("ECHO", "after") == "after"
    finally:
        lane.close()


async def test_a_cancelled_caller_does_not_shift_the_replies(redis_url: str) -> None:
    lane = lane_for(redis_url)
    try:
        first = asyncio.ensure_future(lane.execute("ECHO", "one"))
        second = asyncio.ensure_future(lane.execute("ECHO", "two"))
        await asyncio.sleep(0)  # both written
        first.cancel()
        assert await second == "two"
        assert await lane.execute("ECHO", "three") == "three"
        assert first.cancelled()
    finally:
        lane.close()


async def test_a_killed_link_fails_waiting_calls_and_the_next_call_reconnects(
    redis_url: str,
) -> None:
    lane = lane_for(redis_url)
    admin = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        client_id = await lane.execute("CLIENT", "ID")
        # the call waits (BLPOP on an empty list) when the server kills the link
        waiting = asyncio.ensure_future(lane.execute("BLPOP", f"pl:{uuid.uuid4().hex}", 5))
        await asyncio.sleep(0.1)
        assert admin.client_kill_filter(_id=client_id) == 1
        with pytest.raises(RedisConnectionError):
            await waiting
        assert await lane.execute("CLIENT", "ID") != client_id
        assert await lane.execute("ECHO", "again") == "again"
    finally:
        lane.close()
        admin.close()


async def test_a_silent_server_times_the_waiting_calls_out(redis_url: str) -> None:
    lane = lane_for(redis_url, socket_timeout=0.3)
    try:
        assert await lane.execute("PING") == "PONG"
        started = asyncio.get_running_loop().time()
        with pytest.raises(RedisTimeoutError):
            await lane.execute("BLPOP", f"pl:{uuid.uuid4().hex}", 2)
        assert 0.3 <= asyncio.get_running_loop().time() - started < 1.5
        # the timed-out link is dropped; the next call has a fresh one
        assert await lane.execute("ECHO", "fresh") == "fresh"
    finally:
        lane.close()


async def test_the_handshake_authenticates_selects_and_names(redis_url: str) -> None:
    admin = redis.Redis.from_url(redis_url, decode_responses=True)
    user, password = f"lane{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin.execute_command("ACL", "SETUSER", user, "on", f">{password}", "~*", "+@all")
    key = f"pl:{uuid.uuid4().hex}"
    options = admin.connection_pool.connection_kwargs
    host, port = options["host"], options["port"]
    url = f"redis://{user}:{password}@{host}:{port}/5?client_name=lane-{user}"
    lane = lane_for(url)
    try:
        assert await lane.execute("ACL", "WHOAMI") == user
        assert await lane.execute("CLIENT", "GETNAME") == f"lane-{user}"
        await lane.execute("SET", key, "in five")
        assert redis.Redis(host=host, port=port, db=5, decode_responses=True).get(key) == "in five"
        assert admin.get(key) is None  # not in db 0
        wrong = lane_for(f"redis://{user}:wrong@{host}:{port}/0")
        with pytest.raises(redis.exceptions.AuthenticationError):
            await wrong.execute("PING")
        wrong.close()
    finally:
        await lane.execute("DEL", key)
        lane.close()
        admin.execute_command("ACL", "DELUSER", user)
        admin.close()


async def test_a_lane_follows_a_new_event_loop(redis_url: str) -> None:
    lane = lane_for(redis_url)

    async def echo(text: str) -> str:
        return str(await lane.execute("ECHO", text))

    assert await asyncio.to_thread(asyncio.run, echo("first loop")) == "first loop"
    assert await echo("second loop") == "second loop"
    lane.close()


def test_only_plain_standalone_resp2_clients_get_a_lane(redis_url: str) -> None:
    assert PipelinedConnection.for_client(client_for(redis_url)) is not None
    assert PipelinedConnection.for_client(aioredis.Redis.from_url("unix:///tmp/x.sock")) is not None
    assert PipelinedConnection.for_client(aioredis.Redis.from_url("rediss://127.0.0.1:1/0")) is None
    assert PipelinedConnection.for_client(aioredis.Redis.from_url(redis_url, protocol=3)) is None
    sentinel = client_for(
        "redis+sentinel://127.0.0.1:26379/mymaster/0", Settings(redis_url=redis_url)
    )
    assert PipelinedConnection.for_client(sentinel) is None


async def test_the_redis_layer_runs_scripts_on_the_lane_and_reloads_after_a_flush(
    redis_url: str,
) -> None:
    layer = RedisLayer(client_for(redis_url))
    assert layer.lane is not None
    waiting = RedisLayer(client_for(redis_url), wait_replicas=1)
    assert waiting.lane is None  # WAIT must follow on the script's own connection
    admin = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        admin.script_flush()
        prefix = f"rt:{{pl{uuid.uuid4().hex[:6]}}}:"
        # a script call after SCRIPT FLUSH loads the scripts again and runs
        reply = await layer.call("lock", prefix, 0, "no-such-task", "w", 1000)
        assert reply[0] != 0  # a status (task not found), not NOSCRIPT
        admin.script_flush()
        replies = await layer.call_many([("lock", prefix, [0, "no-such-task", "w", 1000])] * 2)
        assert [r[0] for r in replies] == [reply[0], reply[0]]
    finally:
        await layer.close()
        await waiting.close()
        admin.close()


async def test_coalesced_commands_of_one_loop_turn_leave_in_one_write(redis_url: str) -> None:
    lane = lane_for(redis_url)
    try:
        assert await lane.execute("PING") == "PONG"  # connected
        transport = lane._transport
        assert transport is not None
        writes: list[bytes] = []
        write = transport.write

        def counted(data: bytes) -> None:
            writes.append(bytes(data))
            write(data)

        transport.write = counted  # type: ignore[method-assign]

        def echo(text: str) -> bytes:
            return f"*2\r\n$4\r\nECHO\r\n${len(text)}\r\n{text}\r\n".encode()

        async def coalesced(*texts: str) -> object:
            coalesce_writes()
            if len(texts) == 1:
                return await lane.execute("ECHO", texts[0])
            return await lane.execute_many([("ECHO", t) for t in texts])

        async def plain(text: str) -> object:
            return await lane.execute("ECHO", text)

        got = await asyncio.gather(coalesced("a"), coalesced("b", "c"), coalesced("d"))
        assert got == ["a", ["b", "c"], "d"]
        assert writes == [b"".join(echo(c) for c in "abcd")]
        # everyone else's commands are written at once, a write each
        writes.clear()
        assert await asyncio.gather(plain("x"), plain("y")) == ["x", "y"]
        assert writes == [echo("x"), echo("y")]
        # a plain command takes the coalesced ones sent before it along, in their order
        writes.clear()
        assert await asyncio.gather(coalesced("e"), plain("f")) == ["e", "f"]
        assert writes == [echo("e") + echo("f")]
        # coalescing stays in the task that asked for it
        writes.clear()
        assert await plain("z") == "z"
        assert writes == [echo("z")]
    finally:
        lane.close()
