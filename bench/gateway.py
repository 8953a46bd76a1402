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
                    server after the same idle gap (the client's own share). Crowded: the
                    same across replicas with 1,000 polls parked on B for the sample's topic
                    (raw connections; each sample waits until B's parked-polls gauge shows all
                    of them, and ends when one of them has answered with the task).

Progress goes to stderr; the result table, machine description and command go to stdout.
``--cprofile DIR`` runs every server under cProfile (stopped with SIGINT, the .prof files are
kept in DIR); the numbers of such a run are distorted by the profiler.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import shlex
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict
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

from bench.common import (  # noqa: E402
    cpu_model,
    delete_namespace,
    git_state,
    log,
    nproc,
    python_version,
    redis_to_measure,
    wait_persistence_idle,
)
from bench.gateway_results import FULL, QUICK, Profile, Results, build_rows, print_report  # noqa: E402
from bench.loadgen import (  # noqa: E402
    PERSISTENCE_LIMIT_S,
    PUBLISH_BATCH,
    CpuProbe,
    Step,
    bare_step,
    gateway_step,
    publish,
    run_load,
)
from bench.servers import Server, bare_args, gateway_args, redtask_env, serve_bare, server_process  # noqa: E402
from bench.wake import run_idle, run_wake  # noqa: E402
from redtask.broker.connection import client_for  # noqa: E402


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
            await wait_persistence_idle(rc, PERSISTENCE_LIMIT_S)
            return await load(bare, prof.warmup_s, prof.duration_s, bare_step())

        async def phase_b(label: str) -> dict[str, Any]:
            nonlocal expected_rate
            topic = f"bench-{label}-{uuid.uuid4().hex[:6]}"
            n = int(max(5_000, expected_rate * (phase_s + 1) * 1.5))
            n = -(-n // PUBLISH_BATCH) * PUBLISH_BATCH
            secs = await publish(gw.base, topic, n)
            log(f"  published {n:,} tasks on {topic} in {secs:.1f}s ({n / secs:,.0f}/s, untimed)")
            await wait_persistence_idle(rc, PERSISTENCE_LIMIT_S)
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


# ---------------------------------------------------------------------------------- machine
def machine_description(server_info: dict[str, Any], embedded: bool) -> dict[str, Any]:
    state = git_state("broker", "gateway")
    if state is None:
        revision = "unknown"
    else:
        head, dirty = state
        revision = head + (" (broker/ or gateway/ has uncommitted changes)" if dirty else "")

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
        "nproc": nproc(),
        "cpu_model": cpu_model(),
        "python": python_version(),
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
                asyncio.run(run_idle(bare, prof.samples, args.loadgen, res.idle))
            # B only exists for (c); A stays up (and, under --cprofile, keeps profiling)
            with server_process("gateway-b", gateway_args(), env, profile_dir) as gw_b:
                servers.append(gw_b)
                asyncio.run(
                    run_wake(
                        url, gw_a, gw_b, prof.samples, prof.wake_warmup, args.loadgen, res.wake
                    )
                )
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
        with redis_to_measure(args.redis_url) as (url, embedded):
            run(args, url, embedded, res)
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
