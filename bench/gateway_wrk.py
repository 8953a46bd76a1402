#!/usr/bin/env python
"""The gateway's hot routes under a C load generator, beside a bare FastAPI endpoint, in one run.

    .venv/bin/python bench/gateway_wrk.py [--seconds S] [--rounds R] [--connections C]
                                          [--baseline DIR]

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


async def publish(url: str, ns: str, n: int) -> None:
    store = await open_store(Settings(redis_url=url, namespace=ns, partitions=1))
    try:
        for i in range(0, n, 1000):
            await store.publish_many([NewTask("bench") for _ in range(min(1000, n - i))])
    finally:
        await store.close()


def run_wrk(base: str, script: str, args: argparse.Namespace) -> tuple[float, float, str]:
    """(requests/s, wrk CPU seconds, output) of one wrk run."""
    cmd = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s", "-s", script, base]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed: {out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    if re.search(r"Non-2xx|Socket errors", out) or ("bad=0" not in out and "CYCLE" in out):
        raise RuntimeError(f"wrk saw errors:\n{out}")
    return rate, usage.ru_utime + usage.ru_stime, out


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
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install -y wrk)", file=sys.stderr)
        return 1
    systems = ["bare", "gateway"] + (["baseline"] if args.baseline else [])
    results: dict[str, list[dict[str, float]]] = {s: [] for s in systems}
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
                    env = redtask_env(url, ns)
                    if system == "baseline":
                        env["PYTHONPATH"] = os.path.abspath(args.baseline)
                    with server_process(system, gateway_args(), env) as server:
                        results[system].append(
                            phase(server, redis.pid, str(WRK_DIR / "cycle.lua"), args)
                        )
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
    wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    print(f"\nmachine: {cpu_model()}, {nproc()} cores; Python {sys.version.split()[0]}; {wrk_v}")
    print("command: " + shlex.join([".venv/bin/python", "bench/gateway_wrk.py", *sys.argv[1:]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
