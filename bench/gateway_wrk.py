#!/usr/bin/env python
"""The gateway's hot routes under a C load generator, beside a bare FastAPI endpoint, in one run.

    .venv/bin/python bench/gateway_wrk.py [--seconds S] [--rounds R] [--connections C]
                                          [--baseline DIR] [--fetch10-tasks N] [--no-fetch10]

Needs ``wrk`` (Debian: ``apt-get install -y wrk``); the package does not depend on it. Starts a
private ``redis-server`` (persistence off) on a free port and, as subprocesses served as
gateway/server.py serves the app (bench/servers.py):

(a) bare        a no-op FastAPI POST endpoint that parses the same JSON body (``dict`` body
                parameter) and answers 204; wrk POSTs the fetchAndLock body to it
                (bench/wrk/noop.lua).
(b) gateway     ``redtask gateway`` on the same Redis; tasks pre-published straight into the
                store (untimed); wrk runs bench/wrk/cycle.lua: fetchAndLock(maxTasks=1) and then
                the complete of the task it got (its connections share a queue of fetched ids).
(b') baseline   with ``--baseline DIR``: the gateway of another revision (its package as
                DIR/redtask), the same way.

(c) fetch10     each gateway again on ``--fetch10-tasks`` fresh tasks: bench/wrk/fetch10.lua
                sends fetchAndLock(maxTasks=10) only, first saturated, then at 80 % of that
                rate (each connection waits a think time between its requests, calibrated in
                two 2-second runs), 4 seconds each; tasks/s and wrk's p50/p99 latency of both
                (closed loop: the latency of each request from its send to its answer).
                ``--no-fetch10`` skips it.

wrk uses 1 thread and ``--connections`` (16) keep-alive connections for ``--seconds`` per phase;
the phases alternate (a, b, b' then reversed). Reported per system (medians): requests/s, the
ratio to (a), the server's CPU per request (utime+stime from /proc), Redis's, and wrk's own CPU
(share of one core: it must stay well under one for the figure to be the server's).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench.common import cpu_model, log, nproc, process_cpu  # noqa: E402
from bench.peers import start_redis  # noqa: E402
from bench.servers import Server, bare_args, gateway_args, redtask_env, server_process  # noqa: E402
from redtask.broker.model import NewTask  # noqa: E402
from redtask.broker.settings import Settings  # noqa: E402
from redtask.broker.store import open_store  # noqa: E402

WRK_DIR = ROOT / "bench" / "wrk"
LOAD_SHARE = 0.8  # the rate-limited fetch phase runs at this share of the saturated rate
CALIBRATION_S = 2
FETCH10_S = 4  # each measured fetch(10) phase (the tasks are only locked: they run out)


async def publish(url: str, ns: str, n: int) -> None:
    store = await open_store(Settings(redis_url=url, namespace=ns, partitions=1))
    try:
        for i in range(0, n, 1000):
            await store.publish_many([NewTask("bench") for _ in range(min(1000, n - i))])
    finally:
        await store.close()


def run_wrk(
    base: str,
    script: str,
    args: argparse.Namespace,
    seconds: float | None = None,
    script_args: Sequence[str] = (),
) -> tuple[float, float, str]:
    """(requests/s, wrk CPU seconds, output) of one wrk run (with its latency distribution)."""
    duration = f"-d{seconds or args.seconds}s"
    cmd = ["wrk", "-t1", f"-c{args.connections}", duration, "--latency", "-s", script, base]
    cmd += ["--", *script_args] if script_args else []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed: {out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    if re.search(r"Non-2xx|Socket errors", out) or re.search(r"\b(bad|short)=[1-9]", out):
        raise RuntimeError(f"wrk saw errors (or ran out of tasks):\n{out}")
    return rate, usage.ru_utime + usage.ru_stime, out


def latency_ms(out: str, percentile: int) -> float:
    """A percentile of wrk's latency distribution (``--latency``), in milliseconds."""
    found = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if found is None:
        raise RuntimeError(f"no {percentile}th percentile in wrk's output:\n{out}")
    value, unit = float(found.group(1)), found.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def fetched(out: str) -> int:
    return int(re.search(r"FETCH tasks=(\d+)", out).group(1))  # type: ignore[union-attr]


def fetch10_phase(server: Server, args: argparse.Namespace) -> dict[str, float]:
    """fetchAndLock(maxTasks=10) saturated, then at LOAD_SHARE of that rate: wrk's connections
    wait a think time between a response and their next request, calibrated in two short runs
    (closed loop: the latency is that of each request, from its send to its answer)."""
    script = str(WRK_DIR / "fetch10.lua")
    rate, _, out = run_wrk(server.base, script, args, FETCH10_S)
    row = {"sat_rate": rate, "sat_tasks": fetched(out) / FETCH10_S}
    row.update(sat_p50=latency_ms(out, 50), sat_p99=latency_ms(out, 99))
    target = LOAD_SHARE * rate
    cycle_ms = args.connections / target * 1000  # each connection's request period at target
    think = max(0.0, cycle_ms - latency_ms(out, 50))
    for _ in range(2):
        got, _, _ = run_wrk(server.base, script, args, CALIBRATION_S, [f"{think:.3f}"])
        think = max(0.0, think + cycle_ms - args.connections / got * 1000)
    rate, wrk_cpu, out = run_wrk(server.base, script, args, FETCH10_S, [f"{think:.3f}"])
    row.update(rate=rate, tasks=fetched(out) / FETCH10_S, think_ms=think)
    row.update(p50=latency_ms(out, 50), p99=latency_ms(out, 99), wrk_core=wrk_cpu / FETCH10_S)
    log(
        f"{server.name} fetch10: saturated {row['sat_rate']:,.0f} req/s "
        f"({row['sat_tasks']:,.0f} tasks/s, p99 {row['sat_p99']:.2f} ms); at "
        f"{rate / row['sat_rate']:.0%}: {rate:,.0f} req/s, p50 {row['p50']:.2f} ms, "
        f"p99 {row['p99']:.2f} ms (think {think:.2f} ms)"
    )
    return row


def phase(
    server: Server, redis_pid: int, script: str, args: argparse.Namespace
) -> dict[str, float]:
    s0, r0 = server.cpu_seconds(), process_cpu(redis_pid)
    rate, wrk_cpu, out = run_wrk(server.base, script, args)
    s1, r1 = server.cpu_seconds(), process_cpu(redis_pid)
    n = rate * args.seconds
    row = {
        "rate": rate,
        "server_us": (s1 - s0) / n * 1e6,
        "redis_us": (r1 - r0) / n * 1e6,
        "wrk_core": wrk_cpu / args.seconds,
    }
    cycle = re.search(r"CYCLE .*", out)
    counts = cycle.group(0) if cycle else ""
    log(
        f"{server.name}: {rate:,.0f} req/s, server {row['server_us']:.0f} us/req, redis "
        f"{row['redis_us']:.0f}, wrk {row['wrk_core']:.0%} of a core {counts}"
    )
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--tasks", type=int, default=60_000, help="pre-published per gateway phase")
    parser.add_argument("--baseline", help="a directory holding another revision as DIR/redtask")
    parser.add_argument(
        "--fetch10-tasks",
        type=int,
        default=800_000,
        help="pre-published per fetchAndLock(maxTasks=10) phase (they are only locked)",
    )
    parser.add_argument("--no-fetch10", action="store_true", help="skip the fetch(10) phases")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install -y wrk)", file=sys.stderr)
        return 1
    systems = ["bare", "gateway"] + (["baseline"] if args.baseline else [])
    results: dict[str, list[dict[str, float]]] = {s: [] for s in systems}
    fetch_results: dict[str, list[dict[str, float]]] = {s: [] for s in systems[1:]}
    with tempfile.TemporaryDirectory(prefix="redtask-wrk-") as tmp:
        redis, url = start_redis(Path(tmp))
        try:
            for rnd in range(args.rounds):
                for system in systems if rnd % 2 == 0 else systems[::-1]:
                    if system == "bare":
                        env = dict(os.environ)
                        with server_process("bare", bare_args(), env) as server:
                            results[system].append(
                                phase(server, redis.pid, str(WRK_DIR / "noop.lua"), args)
                            )
                        continue
                    ns = f"gw{uuid.uuid4().hex[:6]}"
                    asyncio.run(publish(url, ns, args.tasks))
                    cwd: str | Path = ROOT
                    extra = {}
                    if system == "baseline":
                        cwd = os.path.abspath(args.baseline)
                        extra["PYTHONPATH"] = cwd
                    env = redtask_env(url, ns, **extra)
                    with server_process(system, gateway_args(), env, cwd=cwd) as server:
                        results[system].append(
                            phase(server, redis.pid, str(WRK_DIR / "cycle.lua"), args)
                        )
                    if args.no_fetch10:
                        continue
                    ns = f"gf{uuid.uuid4().hex[:6]}"
                    asyncio.run(publish(url, ns, args.fetch10_tasks))
                    env = redtask_env(url, ns, **extra)
                    with server_process(system, gateway_args(), env, cwd=cwd) as server:
                        fetch_results[system].append(fetch10_phase(server, args))
        finally:
            redis.terminate()
            redis.wait(timeout=30)

    def med(system: str, key: str) -> float:
        return statistics.median(r[key] for r in results[system])

    bare = med("bare", "rate")
    names = {
        "bare": "bare FastAPI no-op POST (parses the body)",
        "gateway": "gateway: fetchAndLock(maxTasks=1), complete",
        "baseline": f"gateway, baseline ({args.baseline})",
    }
    print(
        f"\nwrk -t1 -c{args.connections} -d{args.seconds}s, "
        f"{args.rounds} interleaved rounds, medians\n"
    )
    print(
        "| server | requests/s | ratio to bare | server CPU µs/request | Redis CPU µs/request "
        "| wrk CPU (share of a core) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for system in systems:
        print(
            f"| {names[system]} | {med(system, 'rate'):,.0f} | {med(system, 'rate') / bare:.2f} | "
            f"{med(system, 'server_us'):.0f} | {med(system, 'redis_us'):.0f} | "
            f"{med(system, 'wrk_core'):.0%} |"
        )
    if not args.no_fetch10:

        def fmed(system: str, key: str) -> float:
            return statistics.median(r[key] for r in fetch_results[system])

        print(
            f"\nfetchAndLock(maxTasks=10) only, saturated and at {LOAD_SHARE:.0%} of that rate "
            f"(each connection waits a calibrated think time between requests), medians\n"
        )
        print(
            "| server | saturated requests/s | tasks/s | p50 / p99 ms | at the lower rate: "
            "requests/s (share) | tasks/s | p50 / p99 ms | wrk CPU |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        fetch_names = {"gateway": "gateway", "baseline": names["baseline"]}
        for system in fetch_results:
            sat, rate = fmed(system, "sat_rate"), fmed(system, "rate")
            print(
                f"| {fetch_names[system]} | {sat:,.0f} | {fmed(system, 'sat_tasks'):,.0f} | "
                f"{fmed(system, 'sat_p50'):.2f} / {fmed(system, 'sat_p99'):.2f} | "
                f"{rate:,.0f} ({rate / sat:.0%}) | {fmed(system, 'tasks'):,.0f} | "
                f"{fmed(system, 'p50'):.2f} / {fmed(system, 'p99'):.2f} | "
                f"{fmed(system, 'wrk_core'):.0%} |"
            )
    wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    print(f"\nmachine: {cpu_model()}, {nproc()} cores; Python {sys.version.split()[0]}; {wrk_v}")
    print("command: " + shlex.join([".venv/bin/python", "bench/gateway_wrk.py", *sys.argv[1:]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
