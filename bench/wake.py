"""(c) of the gateway benchmark: long-poll wake latency. A fetchAndLock parks on one gateway,
one task is published through another (or the same); the time from just before the publish
until the poll's answer has arrived, over bench/rawhttp.py or httpx; the same with CROWD polls
parked on the polling gateway for the same topic (until one of them has answered with the
task); and, for context, the client's own latency for a no-op POST after the same idle gap."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from typing import Any

import httpx
import orjson

from bench.common import log, percentile, wait_persistence_idle
from bench.loadgen import PERSISTENCE_LIMIT_S, Conn, machine_cpu
from bench.rawhttp import RawConn
from bench.servers import Server
from redtask.broker.connection import client_for

WAKE_LOCK_MS = 3_600_000
LONG_POLL_MS = 30_000
PARK_WAIT_S = 0.2
CROWD = 1_000  # polls parked at once in the crowded variant


def wake_conn(base: str, client: str) -> RawConn | Conn:
    """(c)'s connections: "raw" (bench/rawhttp.py, the target figure) or an httpx mode."""
    return RawConn(base, 60.0) if client == "raw" else Conn(base, client, 60.0)


async def wake_samples(
    publisher_base: str, poller_base: str, topic: str, count: int, warmup: int, client: str
) -> tuple[list[float], list[float], list[float]]:
    """(wake latencies, publish latencies, back-to-back publish latencies), ms, for ``count``
    sequential samples."""
    fetch_body = orjson.dumps(
        {
            "workerId": "bench-waker",
            "maxTasks": 1,
            "asyncResponseTimeout": LONG_POLL_MS,
            # locked for longer than the run: an expired sample must not be handed out again
            "topics": [{"topicName": topic, "lockDuration": WAKE_LOCK_MS}],
        }
    )
    publish_body = orjson.dumps({"variables": {"orderId": {"value": "o-1", "type": "String"}}})
    wake: list[float] = []
    pub: list[float] = []
    warm: list[float] = []
    a_conn, b_conn = wake_conn(publisher_base, client), wake_conn(poller_base, client)
    async with a_conn as a, b_conn as b:
        # context: the same publish back to back (no idle gap before it); nobody polls
        for i in range(warmup + count):
            t0 = time.perf_counter()
            status, content = await a.post(f"/redtask/topics/{topic}-warm/tasks", publish_body)
            if status != 201:
                raise RuntimeError(f"publish failed: {status} {content[:300]!r}")
            if i >= warmup:
                warm.append((time.perf_counter() - t0) * 1000)

        async def poll() -> tuple[int, bytes, float]:
            status, content = await b.post("/engine-rest/external-task/fetchAndLock", fetch_body)
            return status, content, time.perf_counter()

        for i in range(warmup + count):
            poller = asyncio.create_task(poll())
            await asyncio.sleep(PARK_WAIT_S)
            if poller.done():
                status, content, _ = poller.result()
                raise RuntimeError(f"poll answered before the publish: {status} {content!r}")
            t0 = time.perf_counter()
            pstatus, pcontent = await a.post(f"/redtask/topics/{topic}/tasks", publish_body)
            t1 = time.perf_counter()
            if pstatus != 201:
                raise RuntimeError(f"publish failed: {pstatus} {pcontent[:300]!r}")
            status, content, t2 = await poller
            got = orjson.loads(content) if status == 200 else None
            if not got or got[0]["id"] != orjson.loads(pcontent)["ids"][0]:
                raise RuntimeError(f"poll got {status} {content[:300]!r}")
            if i >= warmup:
                wake.append((t2 - t0) * 1000)
                pub.append((t1 - t0) * 1000)
    return wake, pub, warm


async def parked_polls(base: str) -> float:
    """The gateway's ``redtask_long_polls_parked`` gauge."""
    async with httpx.AsyncClient(base_url=base) as client:
        text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("redtask_long_polls_parked "):
            return float(line.split()[1])
    raise RuntimeError("the gateway exports no redtask_long_polls_parked")


async def wait_parked(base: str, count: int) -> None:
    for _ in range(500):
        if await parked_polls(base) >= count:
            return
        await asyncio.sleep(0.02)
    raise RuntimeError(f"fewer than {count} polls parked on {base} after 10 s")


async def crowded_wake_samples(
    publisher_base: str, poller_base: str, topic: str, count: int, warmup: int, crowd: int
) -> list[float]:
    """Wake latencies, ms: ``crowd`` polls (raw connections) park on ``poller_base`` for
    ``topic``; a task is published via ``publisher_base``; the sample runs from just before
    the publish until one poll has answered with that task (which then parks again)."""
    fetch_body = orjson.dumps(
        {
            "workerId": "bench-crowd",
            "maxTasks": 1,
            "asyncResponseTimeout": LONG_POLL_MS,
            "topics": [{"topicName": topic, "lockDuration": WAKE_LOCK_MS}],
        }
    )
    publish_body = orjson.dumps({"variables": {"orderId": {"value": "o-1", "type": "String"}}})
    answers: asyncio.Queue[tuple[float, str]] = asyncio.Queue()

    async def poll_forever(conn: RawConn) -> None:
        while True:
            status, content = await conn.post("/engine-rest/external-task/fetchAndLock", fetch_body)
            if status != 200:
                raise RuntimeError(f"parked poll answered {status} {content[:300]!r}")
            for task in orjson.loads(content):
                answers.put_nowait((time.perf_counter(), task["id"]))

    conns = [RawConn(poller_base, LONG_POLL_MS / 1000 + 30) for _ in range(crowd)]
    polls = [asyncio.create_task(poll_forever(c)) for c in conns]
    wake: list[float] = []
    try:
        async with RawConn(publisher_base, 60.0) as a:
            for i in range(warmup + count):
                await wait_parked(poller_base, crowd)
                await asyncio.sleep(PARK_WAIT_S)
                t0 = time.perf_counter()
                status, content = await a.post(f"/redtask/topics/{topic}/tasks", publish_body)
                if status != 201:
                    raise RuntimeError(f"publish failed: {status} {content[:300]!r}")
                t2, task_id = await asyncio.wait_for(answers.get(), 30)
                if task_id != orjson.loads(content)["ids"][0]:
                    raise RuntimeError(f"a poll got {task_id}, not the task just published")
                if i >= warmup:
                    wake.append((t2 - t0) * 1000)
    finally:
        for task in polls:
            task.cancel()
        await asyncio.gather(*polls, return_exceptions=True)
        for conn in conns:
            await conn.__aexit__()
    return wake


async def idle_requests(base: str, count: int, client: str) -> list[float]:
    """Latency, ms, of a no-op POST sent after the same idle gap as each wake sample's publish:
    what the client and one HTTP hop cost before any broker work."""
    out: list[float] = []
    async with wake_conn(base, client) as conn:
        for i in range(3 + count):
            await asyncio.sleep(PARK_WAIT_S)
            t0 = time.perf_counter()
            status, content = await conn.post("/noop", b"{}")
            if status != 204:
                raise RuntimeError(f"no-op answered {status} {content[:300]!r}")
            if i >= 3:
                out.append((time.perf_counter() - t0) * 1000)
    return out


async def run_idle(bare: Server, count: int, httpx_mode: str, out: dict[str, Any]) -> None:
    """The client's own latency after an idle gap, raw and ``httpx_mode``, into ``out``."""
    for client in ("raw", httpx_mode):
        samples = await idle_requests(bare.base, count, client)
        out[client] = {"p50_ms": percentile(samples, 50), "p99_ms": percentile(samples, 99)}
        log(f"idle no-op POST ({client}): p50 {out[client]['p50_ms']:.2f} ms")


# (name, client, publish via, poll on): "cross" over the raw client is the target figure
WAKE_VARIANTS = (
    ("cross", "raw", "a", "b"),
    ("cross-httpx", None, "a", "b"),
    ("same", "raw", "a", "a"),
)


async def run_wake(
    redis_url: str,
    a: Server,
    b: Server,
    count: int,
    warmup: int,
    httpx_mode: str,
    out: dict[str, Any],
    crowd: int = CROWD,
) -> None:
    """The crowded variant (``crowd`` polls parked, 0: none) and every variant of
    WAKE_VARIANTS, ``count`` samples after ``warmup`` untimed ones, into ``out`` by name."""
    rc = client_for(redis_url)
    try:
        await wait_persistence_idle(rc, PERSISTENCE_LIMIT_S)
    finally:
        await rc.aclose()
    servers = {"a": a, "b": b}
    if crowd:
        topic = f"wake-crowd-{uuid.uuid4().hex[:6]}"
        wake = await crowded_wake_samples(a.base, b.base, topic, count, warmup, crowd)
        out["crowd"] = {
            "client": "raw",
            "parked": crowd,
            "n": len(wake),
            "p50_ms": percentile(wake, 50),
            "p99_ms": percentile(wake, 99),
            "max_ms": max(wake),
            "samples_ms": [round(x, 3) for x in wake],
        }
        w = out["crowd"]
        log(
            f"wake latency with {crowd} polls parked: p50 {w['p50_ms']:.2f} ms, "
            f"p99 {w['p99_ms']:.2f} ms"
        )
    for name, client, pub_on, poll_on in WAKE_VARIANTS:
        topic = f"wake-{name}-{uuid.uuid4().hex[:6]}"
        m0, t0 = machine_cpu(), time.perf_counter()
        wake, pub, warm = await wake_samples(
            servers[pub_on].base, servers[poll_on].base, topic, count, warmup,
            client or httpx_mode,
        )  # fmt: skip
        m1, t1 = machine_cpu(), time.perf_counter()
        busy = (m1["machine"] - m0["machine"]) / (t1 - t0) if m0 and m1 else float("nan")
        out[name] = {
            "client": client or f"httpx ({httpx_mode})",
            "n": len(wake),
            "p50_ms": percentile(wake, 50),
            "p99_ms": percentile(wake, 99),
            "max_ms": max(wake),
            "mean_ms": statistics.fmean(wake),
            "publish_p50_ms": percentile(pub, 50),
            "publish_p99_ms": percentile(pub, 99),
            "publish_warm_p50_ms": percentile(warm, 50),
            "publish_warm_p99_ms": percentile(warm, 99),
            "machine_busy_cores": busy,
            "samples_ms": [round(x, 3) for x in wake],
            "publish_samples_ms": [round(x, 3) for x in pub],
        }
        w = out[name]
        log(
            f"wake latency ({name}): p50 {w['p50_ms']:.2f} ms, p99 {w['p99_ms']:.2f} ms; "
            f"publish p50 {w['publish_p50_ms']:.2f} ms, p99 {w['publish_p99_ms']:.2f} ms"
        )
