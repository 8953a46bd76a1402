"""One gateway process holds 10,000 parked long polls (the README's promise) without a Redis
connection each, and delivers 10,000 tasks published afterwards: every poll gets exactly one
task, none answers 5xx. Real processes and sockets: the gateway runs under uvicorn, the polls
are raw HTTP/1.1 connections."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import orjson
import pytest

from redtask.broker.connection import client_for
from redtask.broker.embedded import free_port
from redtask.broker.model import NewTask
from redtask.broker.settings import Settings
from redtask.broker.store import Store

POLLS = 10_000
GATEWAY = "from redtask.gateway.server import serve; from redtask.broker.settings import Settings"


@pytest.fixture
def gateway(redis_url: str, namespace: str) -> Iterator[int]:
    port = free_port()
    env = {
        **os.environ,
        "REDTASK_REDIS_URL": redis_url,
        "REDTASK_NAMESPACE": namespace,
        "REDTASK_GATEWAY_MAX_PARKED_POLLS": str(POLLS),
    }
    code = f"{GATEWAY}; serve(Settings(), '127.0.0.1', {port}, 'warning')"
    process = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert process.poll() is None, "the gateway exited"
                assert time.monotonic() < deadline, "the gateway did not start"
                time.sleep(0.1)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def fetch_request(topic: str, timeout_ms: int) -> bytes:
    body = orjson.dumps(
        {
            "workerId": "w",
            "maxTasks": 1,
            "asyncResponseTimeout": timeout_ms,
            "topics": [{"topicName": topic, "lockDuration": 600_000}],
        }
    )
    head = (
        "POST /engine-rest/external-task/fetchAndLock HTTP/1.1\r\nHost: test\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


async def answer(reader: asyncio.StreamReader) -> tuple[int, object]:
    raw = await reader.read()  # Connection: close -> the answer ends at EOF
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), orjson.loads(body)


async def send(port: int, request: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    return reader, writer


async def one_poll(port: int, request: bytes) -> tuple[int, object]:
    reader, writer = await send(port, request)
    try:
        return await answer(reader)
    finally:
        writer.close()


@pytest.mark.slow
async def test_ten_thousand_parked_polls_on_one_gateway_receive_ten_thousand_tasks(
    gateway: int, redis_url: str, namespace: str
) -> None:
    started = time.monotonic()
    topic = f"cap-{uuid.uuid4().hex[:6]}"
    request = fetch_request(topic, 120_000)
    links = []
    for _ in range(0, POLLS, 500):  # in steps, within the listen backlog
        links += await asyncio.gather(*(send(gateway, request) for _ in range(500)))
    polls = [asyncio.ensure_future(answer(reader)) for reader, _ in links]

    # all 10,000 are parked when one more poll is refused as over capacity
    probe = fetch_request("probe", 1)
    while True:
        status, body = await one_poll(gateway, probe)
        if status == 500:
            assert body["type"] == "InvalidRequestException"  # type: ignore[index]
            break
        assert (status, body) == (200, [])
        assert time.monotonic() - started < 60, "10,000 polls did not park within 60 s"
        await asyncio.sleep(0.2)
    parked_at = time.monotonic()

    store = Store(client_for(redis_url), Settings(namespace=namespace))
    try:
        published: list[str] = []
        for _ in range(0, POLLS, 100):
            published += await store.publish_many([NewTask(topic=topic) for _ in range(100)])
        answers = await asyncio.wait_for(asyncio.gather(*polls), timeout=90)
    finally:
        for _, writer in links:
            writer.close()
        keys = [k async for k in store.redis.scan_iter(match=f"*{namespace}*", count=1000)]
        if keys:
            await store.redis.delete(*keys)
        await store.close()
    delivered_at = time.monotonic()

    failed = [(status, body) for status, body in answers if status != 200]
    assert failed[:3] == []
    assert len(failed) == 0
    ids = [task["id"] for _, body in answers for task in body]  # type: ignore[attr-defined]
    assert len(ids) == POLLS
    assert sorted(ids) == sorted(published)
    print(
        f"parked {POLLS} polls in {parked_at - started:.1f} s, "
        f"delivered {POLLS} tasks in {delivered_at - parked_at:.1f} s"
    )
