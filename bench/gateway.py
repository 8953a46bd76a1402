#!/usr/bin/env python
"""REST gateway benchmark: a measurement, not a test (always exits 0).

    .venv/bin/python bench/gateway.py [--quick] [--redis-url URL] [--json PATH]

One run against one Redis: a private EmbeddedRedis in a temporary directory (AOF everysec,
noeviction) unless ``--redis-url`` is given; a fresh namespace, deleted at the end. Servers run
as subprocesses; the load generator runs in this process (asyncio httpx, HTTP/1.1 keep-alive,
``--concurrency`` connections each with one request in flight), so each server has its own
process and the scheduler may give it its own core. On a 2-core machine the load generator
competes with the servers (and Redis) for CPU: the table shows every party's CPU share and the
servers' CPU per request, which depends much less on who got how much CPU (a busier server
amortizes its per-wake-up costs over more requests, so a half-idle server looks dearer).

(a) HTTP floor      a no-op FastAPI POST endpoint (written here, answers 204 without reading
                    the body) under uvicorn with the gateway's server settings: one worker, no
                    access log, ``Server(config).run()`` as gateway/server.py does (so
                    uvicorn's "auto" loop and http protocol: uvloop and httptools).
                    The clients POST a small JSON body in a loop; requests/s over a fixed
                    window after a warm-up.
(b) REST path       a real ``redtask gateway`` subprocess. Tasks are pre-published (untimed)
                    through POST /redtask/topics/{topic}/tasks in batches; then every client
                    loops: POST fetchAndLock (maxTasks 10, one topic, lockDuration 30000, no
                    long poll), then POST /external-task/{id}/complete (same workerId) for each
                    task received, one after another. tasks/s, REST requests/s (fetches +
                    completes) and (b)/(a) requests/s. (a) and (b) alternate for several rounds
                    (a,b / b,a ...) with the same load-generator code; medians are reported.
(c) wake latency    two gateways A and B on the same Redis and namespace. A fetchAndLock with
                    asyncResponseTimeout 30000 is parked on B (fresh topic, 200 ms to park),
                    then one task is published through A; the time from just before the publish
                    request is sent until B's response has arrived is the wake latency (nothing
                    subtracted). Sequential samples over bench/rawhttp.py, a minimal keep-alive
                    client, so the figure is the servers' and not the client library's. For
                    context: the publish request's own latency, the same publish sent back to
                    back (no idle gap: on this VM a request after ~10+ ms of idleness is about
                    twice as slow), the wake latency with the poll parked on A itself (same
                    replica), the cross-replica wake latency over httpx (what a Python worker
                    on httpx sees), and each client's latency for a no-op POST to (a)'s bare
                    server after the same idle gap (the client's own share).

Progress goes to stderr; the result table, machine description and command go to stdout.
``--cprofile DIR`` runs every server under cProfile (stopped with SIGINT, the .prof files are
kept in DIR); the numbers of such a run are distorted by the profiler.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# httpcore (1.0.x) runs `import sniffio` on every request to detect the async library; sniffio
# is not installed here (anyio 4.x no longer needs it), and a failed import is not cached, so
# every request would scan sys.path (~0.4 ms of the load generator's CPU per request on this
# machine). Marking it absent makes the import fail at once; httpcore then assumes asyncio.
if importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]

import httpx  # noqa: E402
import orjson  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI, Response  # noqa: E402

from bench.rawhttp import RawConn  # noqa: E402
from redtask.broker.connection import client_for  # noqa: E402
from redtask.broker.embedded import EmbeddedRedis, free_port  # noqa: E402

LOCK_MS = 30_000
WAKE_LOCK_MS = 3_600_000
FETCH_BATCH = 10
PUBLISH_BATCH = 500
PUBLISH_CONCURRENCY = 4
LONG_POLL_MS = 30_000
PARK_WAIT_S = 0.2
SERVER_LOG_LEVEL = "warning"
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Profile:
    rounds: int
    warmup_s: float  # per (a)/(b) phase, before the measured window
    duration_s: float  # the measured window
    samples: int  # wake-latency samples per variant
    wake_warmup: int = 3  # untimed wake samples first


FULL = Profile(rounds=3, warmup_s=1.0, duration_s=5.0, samples=200)
QUICK = Profile(rounds=1, warmup_s=1.0, duration_s=3.0, samples=20)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


# ---------------------------------------------------------------------------------- (a) server
def serve_bare(port: int) -> None:
    """The floor: a no-op POST endpoint, served exactly as gateway/server.py serves the app
    (with the same FastAPI settings: built-in telemetry off, as gateway/app.py sets it)."""
    app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})

    @app.post("/noop", status_code=204)
    async def noop() -> Response:
        return Response(status_code=204)

    @app.get("/health/ready")
    async def ready() -> dict[str, str]:
        return {"status": "UP"}

    class BareServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            self._captured_signals.clear()  # exit 0 (cProfile then writes its file)

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level=SERVER_LOG_LEVEL,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    BareServer(config).run()  # as gateway/server.py: uvicorn picks the loop and http protocol


# ---------------------------------------------------------------------------------- processes
@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    base: str
    profile_path: Path | None

    def cpu_seconds(self) -> float:
        """utime + stime of the server process (it runs no children)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK


def redtask_env(redis_url: str, namespace: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDTASK_")}
    env.update(REDTASK_REDIS_URL=redis_url, REDTASK_NAMESPACE=namespace, REDTASK_PARTITIONS="1")
    return env


@contextmanager
def server_process(
    name: str, args: list[str], env: dict[str, str], profile_dir: Path | None
) -> Iterator[Server]:
    """Start ``python [-m cProfile -o F] ARGS`` and wait for GET /health/ready; stop with
    SIGINT (the servers treat it as a graceful shutdown and exit 0)."""
    port = free_port()
    profile_path = None
    cmd = [sys.executable]
    if profile_dir is not None:
        profile_path = profile_dir / f"{name}.prof"
        cmd += ["-m", "cProfile", "-o", str(profile_path)]
    cmd += [a.replace("{port}", str(port)) for a in args]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    server = Server(name, proc, f"http://127.0.0.1:{port}", profile_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited during startup ({proc.returncode})")
            try:
                if httpx.get(f"{server.base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not become ready in 30s")
            time.sleep(0.05)
        log(f"{name} ready at {server.base} (pid {proc.pid})")
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        if code != 0:
            log(f"warning: {name} exited with {code}")


def gateway_args() -> list[str]:
    return ["-m", "redtask", "--log-level", "WARNING", "gateway", "--port", "{port}"]


def bare_args() -> list[str]:
    return [str(Path(__file__).resolve()), "--serve-bare", "{port}"]


# ---------------------------------------------------------------------------------- load generator
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


# ---------------------------------------------------------------------------------- redis helpers
async def wait_persistence_idle(client: aioredis.Redis, limit_s: float = 60.0) -> float:
    """Wait until no AOF rewrite / RDB save runs (a forked child skews the timing)."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit_s:
        p = await client.info("persistence")
        busy = (
            p.get("aof_rewrite_in_progress", 0)
            or p.get("aof_rewrite_scheduled", 0)
            or p.get("rdb_bgsave_in_progress", 0)
        )
        if not busy:
            return time.perf_counter() - start
        await asyncio.sleep(0.1)
    log(f"warning: persistence still busy after {limit_s:.0f}s")
    return time.perf_counter() - start


async def delete_namespace(client: aioredis.Redis, ns: str) -> int:
    deleted, cursor = 0, 0
    while True:
        cursor, keys = await client.scan(cursor, match=f"*{ns}*", count=10_000)
        if keys:
            deleted += await client.unlink(*keys)
        if cursor == 0:
            return deleted


# ---------------------------------------------------------------------------------- (a)/(b)
async def run_ab(
    redis_url: str,
    bare: Server,
    gw: Server,
    prof: Profile,
    args: argparse.Namespace,
    redis_local: bool,
    res: Results,
) -> None:
    concurrency, mode = args.concurrency, args.loadgen
    rc = client_for(redis_url)
    try:
        # expected tasks/s for sizing the pre-publish; corrected after every (b) phase
        expected_rate = 3_000.0
        phase_s = prof.warmup_s + prof.duration_s

        async def load(server: Server, warm: float, dur: float, step: Step) -> dict[str, Any]:
            probe = CpuProbe([server], rc, redis_local)
            return await run_load(server.base, concurrency, warm, dur, step, probe, mode)

        async def phase_a(label: str) -> dict[str, Any]:
            await wait_persistence_idle(rc)
            return await load(bare, prof.warmup_s, prof.duration_s, bare_step())

        async def phase_b(label: str) -> dict[str, Any]:
            nonlocal expected_rate
            topic = f"bench-{label}-{uuid.uuid4().hex[:6]}"
            n = int(max(5_000, expected_rate * (phase_s + 1) * 1.5))
            n = -(-n // PUBLISH_BATCH) * PUBLISH_BATCH
            secs = await publish(gw.base, topic, n)
            log(f"  published {n:,} tasks on {topic} in {secs:.1f}s ({n / secs:,.0f}/s, untimed)")
            await wait_persistence_idle(rc)
            step = gateway_step(topic, concurrency)
            out = await load(gw, prof.warmup_s, prof.duration_s, step)
            out["published"] = n
            expected_rate = max(expected_rate, out["tasks_per_s"])
            return out

        log("warm-up: 1 untimed short phase each")
        await load(bare, 0.5, 0.5, bare_step())
        topic = f"bench-warm-{uuid.uuid4().hex[:6]}"
        await publish(gw.base, topic, 2_000)
        await load(gw, 0.5, 0.5, gateway_step(topic, concurrency))
        for r in range(prof.rounds):
            order = [("a", phase_a), ("b", phase_b)]
            if r % 2:
                order.reverse()
            for name, fn in order:
                out = await fn(f"r{r}")
                (res.bare_rounds if name == "a" else res.gateway_rounds).append(out)
                cpu = ", ".join(f"{k[4:]} {v:.0%}" for k, v in out.items() if k.startswith("cpu_"))
                extra = f", {out['tasks_per_s']:,.0f} tasks/s" if name == "b" else ""
                log(
                    f"round {r + 1}/{prof.rounds} ({name}): {out['requests_per_s']:,.0f} req/s"
                    f"{extra} (cpu: {cpu}; errors {out['errors']}, "
                    f"short fetches {out['short_fetches']})"
                )
                if out["first_error"]:
                    log(f"  first error: {out['first_error']}")
    finally:
        await rc.aclose()


# ---------------------------------------------------------------------------------- (c)
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


async def run_idle(bare: Server, prof: Profile, httpx_mode: str, res: Results) -> None:
    for client in ("raw", httpx_mode):
        samples = await idle_requests(bare.base, prof.samples, client)
        res.idle[client] = {"p50_ms": percentile(samples, 50), "p99_ms": percentile(samples, 99)}
        log(f"idle no-op POST ({client}): p50 {res.idle[client]['p50_ms']:.2f} ms")


# (name, client, publish via, poll on): "cross" over the raw client is the target figure
WAKE_VARIANTS = (
    ("cross", "raw", "a", "b"),
    ("cross-httpx", None, "a", "b"),
    ("same", "raw", "a", "a"),
)


async def run_wake(
    redis_url: str, a: Server, b: Server, prof: Profile, httpx_mode: str, res: Results
) -> None:
    rc = client_for(redis_url)
    try:
        await wait_persistence_idle(rc)
    finally:
        await rc.aclose()
    servers = {"a": a, "b": b}
    for name, client, pub_on, poll_on in WAKE_VARIANTS:
        topic = f"wake-{name}-{uuid.uuid4().hex[:6]}"
        m0, t0 = machine_cpu(), time.perf_counter()
        wake, pub, warm = await wake_samples(
            servers[pub_on].base, servers[poll_on].base, topic, prof.samples,
            prof.wake_warmup, client or httpx_mode,
        )  # fmt: skip
        m1, t1 = machine_cpu(), time.perf_counter()
        busy = (m1["machine"] - m0["machine"]) / (t1 - t0) if m0 and m1 else float("nan")
        res.wake[name] = {
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
        w = res.wake[name]
        log(
            f"wake latency ({name}): p50 {w['p50_ms']:.2f} ms, p99 {w['p99_ms']:.2f} ms; "
            f"publish p50 {w['publish_p50_ms']:.2f} ms, p99 {w['publish_p99_ms']:.2f} ms"
        )


# ---------------------------------------------------------------------------------- machine
def machine_description(server_info: dict[str, Any], embedded: bool) -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    try:  # read-only: which code was measured
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "broker", "gateway"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
        revision = head + (" (broker/ or gateway/ has uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        revision = "unknown"

    def version(dist: str) -> str:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as v

        try:
            return v(dist)
        except PackageNotFoundError:
            return "not installed"

    http_impl = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop_impl = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return {
        "git": revision,
        "nproc": nproc,
        "cpu_model": cpu,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "redis_server": server_info.get("redis_version"),
        "redis_server_mode": "embedded (AOF everysec)" if embedded else "external",
        "server_stack": (
            f"uvicorn {version('uvicorn')} (1 worker, access log off, loop auto -> "
            f"{loop_impl}, http auto -> {http_impl}), fastapi {version('fastapi')}, "
            f"starlette {version('starlette')}"
        ),
        "client_stack": f"httpx {version('httpx')} (asyncio, HTTP/1.1 keep-alive), "
        f"redis-py {version('redis')}, hiredis {version('hiredis')}",
        "loadavg_at_start": os.getloadavg(),
    }


# ---------------------------------------------------------------------------------- report
@dataclass
class Results:
    command: str
    profile: dict[str, Any]
    machine: dict[str, Any] = field(default_factory=dict)
    bare_rounds: list[dict[str, Any]] = field(default_factory=list)
    gateway_rounds: list[dict[str, Any]] = field(default_factory=list)
    wake: dict[str, Any] = field(default_factory=dict)
    idle: dict[str, Any] = field(default_factory=dict)
    profiles: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    error: str | None = None
    rows: list[dict[str, str]] = field(default_factory=list)


def build_rows(res: Results) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    conc = res.profile.get("concurrency")

    def row(metric: str, value: str, target: str = "—", ok: bool | None = None) -> None:
        rows.append(
            {"metric": metric, "value": value, "target": target,
             "ok": "—" if ok is None else ("yes" if ok else "NO")}
        )  # fmt: skip

    def med(rounds: list[dict[str, Any]], key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    def each(rounds: list[dict[str, Any]], key: str) -> str:
        return ", ".join(f"{r[key]:,.0f}" for r in rounds)

    def cpu(rounds: list[dict[str, Any]], names: Sequence[str]) -> str:
        names = [n for n in names if all("cpu_" + n in r for r in rounds)]
        return ", ".join(f"{n} {med(rounds, 'cpu_' + n):.0%}" for n in names)

    ar, br = res.bare_rounds, res.gateway_rounds
    if ar:
        a = med(ar, "requests_per_s")
        row(f"(a) bare FastAPI+uvicorn no-op POST, requests/s ({conc} conns; median of "
            f"{len(ar)}: {each(ar, 'requests_per_s')})", f"{a:,.0f}")  # fmt: skip
        row("  (a) CPU, share of one core (median)", cpu(ar, ["bare", "loadgen", "other", "steal"]))
    if br:
        row(f"(b) gateway fetchAndLock(10)+complete, tasks/s ({conc} conns; median of "
            f"{len(br)}: {each(br, 'tasks_per_s')})", f"{med(br, 'tasks_per_s'):,.0f}")  # fmt: skip
        b = med(br, "requests_per_s")
        row(f"(b) gateway REST requests/s, fetches + completes (median of {len(br)}: "
            f"{each(br, 'requests_per_s')})", f"{b:,.0f}")  # fmt: skip
        row(
            "  (b) CPU, share of one core (median)",
            cpu(br, ["gateway-a", "redis", "loadgen", "other", "steal"]),
        )
        errors = sum(r["errors"] for r in br) + sum(r["errors"] for r in ar)
        short = sum(r["short_fetches"] for r in br)
        others = [r.get("cpu_other", 0.0) for r in ar + br]
        row("  most CPU used by other processes + kernel threads in any (a)/(b) window "
            "(noise), share of a core",
            f"{max(others):.0%}")  # fmt: skip
        row("  (a)+(b) non-2xx answers / fetches with < 10 tasks in the windows",
            f"{errors} / {short}", "0 / 0", errors == 0 and short == 0)  # fmt: skip
    if ar and br:
        a, b = med(ar, "requests_per_s"), med(br, "requests_per_s")
        row("(b)/(a) requests/s", f"{b / a:.2f}", "≥ 0.50", b / a >= 0.50)
        pairs = [y["requests_per_s"] / x["requests_per_s"] for x, y in zip(ar, br, strict=False)]
        row("  (b)/(a) median of per-round ratios", f"{statistics.median(pairs):.2f}")
        row("  (b) tasks/s / (a) requests/s", f"{med(br, 'tasks_per_s') / a:.2f}")
        # CPU per request: what each server would need with a core of its own
        a_us = med([r | {"x": r["cpu_bare"] / r["requests_per_s"] * 1e6} for r in ar], "x")
        b_us = med([r | {"x": r["cpu_gateway-a"] / r["requests_per_s"] * 1e6} for r in br], "x")
        row("  server CPU per request, µs: (a) bare / (b) gateway (median)",
            f"{a_us:,.0f} / {b_us:,.0f}")  # fmt: skip
        if all("cpu_redis" in r for r in br):
            r_us = med([r | {"x": r["cpu_redis"] / r["requests_per_s"] * 1e6} for r in br], "x")
            row("  (b) redis-server CPU per REST request, µs (median)", f"{r_us:,.0f}")
        row("  (a)/(b) server CPU per request (the (b)/(a) ratio if each server had a core "
            "of its own and the load generator were free)", f"{a_us / b_us:.2f}")  # fmt: skip
        bound = [
            name
            for name, rounds, srv in (("(a)", ar, "bare"), ("(b)", br, "gateway-a"))
            if med(rounds, "cpu_loadgen") >= 0.85
            and med(rounds, "cpu_loadgen") > med(rounds, "cpu_" + srv)
        ]
        row("  phases where the load generator used more CPU than the server (≥ 85% of a "
            "core; their rate is partly the client's)", ", ".join(bound) or "none")  # fmt: skip
    w = res.wake.get("cross")
    if w:
        row(f"(c) long-poll wake latency across replicas (publish via A, poll parked on B), "
            f"p50, ms (n={w['n']}, {w['client']} client)", f"{w['p50_ms']:.2f}")  # fmt: skip
        row("(c) long-poll wake latency across replicas, p99, ms", f"{w['p99_ms']:.2f}",
            "≤ 5", w["p99_ms"] <= 5.0)  # fmt: skip
        row("  (c) publish request alone (POST /redtask/topics/…/tasks via A), p50 / p99, ms",
            f"{w['publish_p50_ms']:.2f} / {w['publish_p99_ms']:.2f}")  # fmt: skip
        row("  (c) the same publish back to back (no idle gap, nobody polling), p50 / p99, ms",
            f"{w['publish_warm_p50_ms']:.2f} / {w['publish_warm_p99_ms']:.2f}")  # fmt: skip
        row("  (c) max / mean wake latency across replicas, ms",
            f"{w['max_ms']:.2f} / {w['mean_ms']:.2f}")  # fmt: skip
        row("  (c) whole machine busy during the samples (all processes), cores",
            f"{w['machine_busy_cores']:.2f}")  # fmt: skip
    for name, label in (("same", "same replica (publish and poll both on A)"),
                        ("cross-httpx", "across replicas, httpx client")):  # fmt: skip
        v = res.wake.get(name)
        if v:
            row(f"  (c) {label}, p50 / p99, ms ({v['client']} client)",
                f"{v['p50_ms']:.2f} / {v['p99_ms']:.2f}")  # fmt: skip
    if res.idle:
        row("  (c) the client alone: bare no-op POST after the same idle gap, p50 / p99, ms",
            ", ".join(f"{c} {v['p50_ms']:.2f} / {v['p99_ms']:.2f}"
                      for c, v in res.idle.items()))  # fmt: skip
    return rows


def print_report(res: Results) -> None:
    out = sys.stdout
    print("\n## redtask gateway benchmark\n", file=out)
    print("| metric | value | target | ok? |", file=out)
    print("|---|---:|---|---|", file=out)
    for r in res.rows:
        print(f"| {r['metric']} | {r['value']} | {r['target']} | {r['ok']} |", file=out)
    p = res.profile
    if p:
        print(
            f"\nLoad generator: httpx, {p['concurrency']} keep-alive connections, mode "
            f"{p['loadgen']!r}. Windows: {p['warmup_s']:g}s warm-up + {p['duration_s']:g}s "
            "measured per phase, "
            f"{p['rounds']} round(s) alternating a,b / b,a; {p['samples']} wake samples per "
            f"variant after {p['wake_warmup']} untimed ones, {PARK_WAIT_S * 1000:.0f} ms to park.",
            file=out,
        )
    if res.profiles:
        print("\nUnder cProfile (numbers distorted): " + ", ".join(res.profiles), file=out)
    m = res.machine
    print("\nMachine:", file=out)
    keys = ("git", "nproc", "cpu_model", "python", "platform", "redis_server", "redis_server_mode")
    keys += ("server_stack", "client_stack", "loadavg_at_start", "loadavg_at_end")
    for key in keys:
        print(f"- {key}: {m.get(key)}", file=out)
    print(f"\nCommand: `{res.command}` (cwd {os.getcwd()})", file=out)
    print(f"Wall time: {res.wall_seconds:.1f}s", file=out)
    if res.error:
        print(f"\nABORTED: {res.error} (the table holds what was measured before)", file=out)


# ---------------------------------------------------------------------------------- main
async def redis_info(url: str) -> dict[str, Any]:
    rc = client_for(url)
    try:
        return dict(await rc.info("server"))
    finally:
        await rc.aclose()


async def cleanup(url: str, ns: str) -> None:
    rc = client_for(url)
    try:
        t0 = time.perf_counter()
        n = await delete_namespace(rc, ns)
        log(f"deleted {n:,} keys of namespace {ns} in {time.perf_counter() - t0:.1f}s")
    finally:
        await rc.aclose()


def run(args: argparse.Namespace, url: str, embedded: bool, res: Results) -> None:
    prof = QUICK if args.quick else FULL
    if args.rounds:
        prof.rounds = args.rounds
    if args.duration:
        prof.duration_s = args.duration
    if args.samples:
        prof.samples = args.samples
    res.profile = asdict(prof) | {"concurrency": args.concurrency, "loadgen": args.loadgen}
    res.machine = machine_description(asyncio.run(redis_info(url)), embedded)
    ns = f"gb{uuid.uuid4().hex[:5]}"
    env = redtask_env(url, ns)
    profile_dir = Path(args.cprofile).resolve() if args.cprofile else None
    if profile_dir:
        profile_dir.mkdir(parents=True, exist_ok=True)
    log(f"redis {res.machine['redis_server']} at {url}, namespace {ns}, profile {prof}")
    servers: list[Server] = []
    try:
        with server_process("gateway-a", gateway_args(), env, profile_dir) as gw_a:
            servers.append(gw_a)
            with server_process("bare", bare_args(), env, profile_dir) as bare:
                servers.append(bare)
                local = embedded or urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")
                asyncio.run(run_ab(url, bare, gw_a, prof, args, local, res))
                asyncio.run(run_idle(bare, prof, args.loadgen, res))
            # B only exists for (c); A stays up (and, under --cprofile, keeps profiling)
            with server_process("gateway-b", gateway_args(), env, profile_dir) as gw_b:
                servers.append(gw_b)
                asyncio.run(run_wake(url, gw_a, gw_b, prof, args.loadgen, res))
    finally:
        res.profiles = [str(s.profile_path) for s in servers if s.profile_path]
        asyncio.run(cleanup(url, ns))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round, 3s windows")
    parser.add_argument("--redis-url", help="use this Redis instead of a private embedded one")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--concurrency", type=int, default=16, help="connections (default 16)")
    parser.add_argument("--rounds", type=int, help="override the number of (a)/(b) rounds")
    parser.add_argument("--duration", type=float, help="override the measured window, seconds")
    parser.add_argument("--samples", type=int, help="override the wake-latency samples")
    parser.add_argument(
        "--loadgen",
        choices=["client", "transport"],
        default="client",
        help="(a)/(b) and (c)'s httpx variant: httpx.AsyncClient.post per request (default), or "
        "prebuilt requests straight to httpx.AsyncHTTPTransport (less client CPU)",
    )
    parser.add_argument("--cprofile", metavar="DIR", help="run the servers under cProfile")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    res = Results(command=command, profile={})
    start = time.perf_counter()
    try:
        if args.redis_url:
            run(args, args.redis_url, False, res)
        else:
            with tempfile.TemporaryDirectory(prefix="redtask-bench-") as tmp:
                server = EmbeddedRedis(Path(tmp) / "redis")
                server.start()
                try:
                    run(args, server.url, True, res)
                finally:
                    server.stop()
    except Exception as exc:  # a measurement: report what we have, still exit 0
        log(f"benchmark aborted: {type(exc).__name__}: {exc}")
        res.error = f"{type(exc).__name__}: {exc}"
    res.wall_seconds = time.perf_counter() - start
    if res.machine:
        res.machine["loadavg_at_end"] = os.getloadavg()
    res.rows = build_rows(res)
    print_report(res)
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(res), indent=2, default=str) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
