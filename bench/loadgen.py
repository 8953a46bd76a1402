"""The gateway benchmark's load generator: keep-alive connections each looping over a step
(a no-op POST, or fetchAndLock then a complete per task) and counting what completes inside a
measured window, with every party's CPU share; and the untimed pre-publish."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis

from bench.common import CLK_TCK
from bench.servers import Server

LOCK_MS = 30_000
FETCH_BATCH = 10
PUBLISH_BATCH = 500
PUBLISH_CONCURRENCY = 4
PERSISTENCE_LIMIT_S = 60.0  # how long a phase waits for an AOF rewrite / RDB save to end


@dataclass
class Window:
    """Counts what completes inside [start, end) (perf_counter seconds)."""

    start: float
    end: float
    requests: int = 0
    tasks: int = 0
    errors: int = 0
    short_fetches: int = 0  # fetches with fewer than maxTasks tasks (the topic ran dry?)
    first_error: str | None = None

    def record(self, requests: int = 0, tasks: int = 0) -> None:
        now = time.perf_counter()
        if self.start <= now < self.end:
            self.requests += requests
            self.tasks += tasks

    def error(self, what: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = what


JSON = {"content-type": "application/json"}


class Conn:
    """One keep-alive HTTP/1.1 connection of the load generator: POST a JSON body, get
    (status, body). ``mode`` "client": ``httpx.AsyncClient.post`` (the default); "transport":
    a prebuilt ``httpx.Request`` straight to ``httpx.AsyncHTTPTransport`` (same httpcore/h11
    connection code, without the client layer: about a third less CPU per request)."""

    def __init__(self, base: str, mode: str = "client", timeout: float = 30.0) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self.base = base
        self.client: httpx.AsyncClient | None = None
        self.transport: httpx.AsyncHTTPTransport | None = None
        if mode == "transport":
            self.transport = httpx.AsyncHTTPTransport(limits=limits, verify=False)
        else:  # plain http: no TLS context to build
            self.client = httpx.AsyncClient(
                base_url=base, limits=limits, timeout=timeout, verify=False
            )
        self.timeouts = dict.fromkeys(("connect", "read", "write", "pool"), timeout)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.client is not None:
            r = await self.client.post(path, content=body, headers=JSON)
            return r.status_code, r.content
        assert self.transport is not None
        request = httpx.Request(
            "POST", self.base + path, content=body, headers=JSON,
            extensions={"timeout": self.timeouts},
        )  # fmt: skip
        response = await self.transport.handle_async_request(request)
        try:
            return response.status_code, await response.aread()
        finally:
            await response.aclose()

    async def __aenter__(self) -> Conn:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.client is not None:
            await self.client.aclose()
        if self.transport is not None:
            await self.transport.aclose()


Step = Callable[[Conn, int, Window], Awaitable[None]]


def machine_cpu() -> dict[str, float]:
    """Busy and steal CPU seconds of the whole machine (all cores) from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return {}
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in first[1:9])
    busy = user + nice + system + irq + softirq + steal
    return {"machine": busy / CLK_TCK, "steal": steal / CLK_TCK}


@dataclass
class CpuProbe:
    servers: list[Server]
    redis: aioredis.Redis | None
    redis_local: bool = True  # redis-server runs on this machine (its CPU is ours)

    async def sample(self) -> dict[str, float]:
        out = {"wall": time.perf_counter(), "loadgen": time.process_time()}
        out |= machine_cpu()
        for s in self.servers:
            out[s.name] = s.cpu_seconds()
        if self.redis is not None:
            cpu = await self.redis.info("cpu")
            out["redis"] = float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])
            stats = await self.redis.info("persistence")
            out["aof_rewrites"] = float(stats.get("aof_rewrites", 0))
            out["rdb_saves"] = float(stats.get("rdb_saves", 0))
        return out


async def run_load(
    base: str,
    concurrency: int,
    warmup_s: float,
    duration_s: float,
    step: Step,
    probe: CpuProbe,
    mode: str,
) -> dict[str, Any]:
    """``concurrency`` workers, each with its own keep-alive HTTP/1.1 connection, calling
    ``step`` in a loop until the window is over. Returns rates and CPU shares.

    One connection (httpx pool) per worker: httpcore's pool scans all its
    connections and queued requests on every request, which with one shared 16-connection
    pool cost the load generator more CPU than the requests themselves."""
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(Conn(base, mode)) for _ in range(concurrency)]
        t0 = time.perf_counter()
        window = Window(t0 + warmup_s, t0 + warmup_s + duration_s)
        cpu: list[dict[str, float]] = []

        async def worker(i: int) -> None:
            while time.perf_counter() < window.end:
                await step(clients[i], i, window)

        async def sampler() -> None:
            await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
            cpu.append(await probe.sample())
            await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
            cpu.append(await probe.sample())

        await asyncio.gather(sampler(), *(worker(i) for i in range(concurrency)))
    before, after = cpu
    wall = after["wall"] - before["wall"]
    shares = {
        f"cpu_{k}": (after[k] - before[k]) / wall
        for k in before
        if k not in ("wall", "aof_rewrites", "rdb_saves")
    }
    if "cpu_machine" in shares:  # what the rest of the machine used meanwhile
        ours = ["cpu_loadgen", *(f"cpu_{s.name}" for s in probe.servers)]
        if probe.redis is not None and probe.redis_local:
            ours.append("cpu_redis")
        shares["cpu_other"] = max(0.0, shares["cpu_machine"] - sum(shares[k] for k in ours))
    return {
        "seconds": duration_s,
        "requests": window.requests,
        "tasks": window.tasks,
        "requests_per_s": window.requests / duration_s,
        "tasks_per_s": window.tasks / duration_s,
        "errors": window.errors,
        "first_error": window.first_error,
        "short_fetches": window.short_fetches,
        "persistence_events": sum(
            after.get(k, 0) - before.get(k, 0) for k in ("aof_rewrites", "rdb_saves")
        ),
    } | shares


def bare_step() -> Step:
    body = orjson.dumps({"workerId": "bench-worker", "variables": {}})

    async def step(conn: Conn, i: int, window: Window) -> None:
        status, content = await conn.post("/noop", body)
        if status != 204:
            window.error(f"noop: {status} {content[:200]!r}")
        window.record(requests=1)

    return step


def gateway_step(topic: str, concurrency: int) -> Step:
    fetch_bodies = [
        orjson.dumps(
            {
                "workerId": f"bench-worker-{i}",
                "maxTasks": FETCH_BATCH,
                "topics": [{"topicName": topic, "lockDuration": LOCK_MS}],
            }
        )
        for i in range(concurrency)
    ]
    complete_bodies = [orjson.dumps({"workerId": f"bench-worker-{i}"}) for i in range(concurrency)]

    async def step(conn: Conn, i: int, window: Window) -> None:
        status, content = await conn.post(
            "/engine-rest/external-task/fetchAndLock", fetch_bodies[i]
        )
        if status != 200:
            window.error(f"fetchAndLock: {status} {content[:200]!r}")
            window.record(requests=1)
            return
        tasks = orjson.loads(content)
        window.record(requests=1)
        if len(tasks) < FETCH_BATCH and window.start <= time.perf_counter() < window.end:
            window.short_fetches += 1
        for task in tasks:
            status, content = await conn.post(
                f"/engine-rest/external-task/{task['id']}/complete", complete_bodies[i]
            )
            if status != 204:
                window.error(f"complete: {status} {content[:200]!r}")
                window.record(requests=1)
            else:
                window.record(requests=1, tasks=1)

    return step


async def publish(base: str, topic: str, n: int) -> float:
    """Publish n tasks (one small variable each) through the extension endpoint; seconds."""
    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=60.0, verify=False) as client:
        next_start = 0

        async def publisher() -> None:
            nonlocal next_start
            while next_start < n:
                size = min(PUBLISH_BATCH, n - next_start)
                first = next_start
                next_start += size
                body = orjson.dumps(
                    [
                        {"variables": {"orderId": {"value": f"o-{first + k}", "type": "String"}}}
                        for k in range(size)
                    ]
                )
                r = await client.post(f"/redtask/topics/{topic}/tasks", content=body, headers=JSON)
                if r.status_code != 201:
                    raise RuntimeError(f"publish failed: {r.status_code} {r.text[:300]}")

        await asyncio.gather(*(publisher() for _ in range(PUBLISH_CONCURRENCY)))
    return time.perf_counter() - t0
