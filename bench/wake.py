"""(c) of the gateway benchmark: long-poll wake latency. A fetchAndLock parks on one gateway,
one task is published through another (or the same); the time from just before the publish
until the poll's answer has arrived, over bench/rawhttp.py or httpx; and, for context, the
client's own latency for a no-op POST after the same idle gap."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from typing import Any

import orjson

from bench.common import log, percentile, wait_persistence_idle
from bench.loadgen import PERSISTENCE_LIMIT_S, Conn, machine_cpu
from bench.rawhttp import RawConn
from bench.servers import Server
from redtask.broker.connection import client_for

WAKE_LOCK_MS = 3_600_000
LONG_POLL_MS = 30_000
PARK_WAIT_S = 0.2


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
) -> None:
    """Every variant of WAKE_VARIANTS, ``count`` samples after ``warmup`` untimed ones, into
    ``out`` by variant name."""
    rc = client_for(redis_url)
    try:
        await wait_persistence_idle(rc, PERSISTENCE_LIMIT_S)
    finally:
        await rc.aclose()
    servers = {"a": a, "b": b}
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
