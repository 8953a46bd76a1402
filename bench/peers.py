#!/usr/bin/env python
"""redtask's SDK worker beside BullMQ on one redis-server, in one run.

    .venv/bin/python bench/peers.py [--jobs N] [--rounds R] [--concurrency C] [--profile DIR]

Needs Node and BullMQ: ``(cd bench/peers_node && npm install)`` once (node_modules is not
committed; nothing is fetched at run time). Starts a private ``redis-server`` (persistence off:
no RDB, no AOF) on a free port. For each system and each number of worker processes (1 and 2)
a round pre-fills ``--jobs`` no-op jobs (untimed: ``Store.publish_many`` for redtask, BullMQ's
``addBulk`` with removeOnComplete), starts the worker processes (``bench/peers_worker.py``: a
``Worker`` on a ``RedisTransport``, one no-op async handler; ``bench/peers_node/worker.mjs``:
a BullMQ ``Worker`` with a no-op async processor), waits until each has connected, then starts
the clock and releases them together. The clock stops when Redis holds no job left to run
(redtask: nothing fetchable or locked; BullMQ: nothing waiting or active), polled every 2 ms.
The configurations alternate within each round (forward, then backward in the next round);
medians are reported, with CPU per job of the worker processes and of redis-server.

Prints the table (jobs/s, the ratio redtask / BullMQ, CPU µs per job), the machine and the
command to stdout. Exits 1 if a round went wrong (jobs left, a failed BullMQ job).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench.common import cpu_model, log, nproc, process_cpu  # noqa: E402
from redtask.broker.connection import client_for  # noqa: E402
from redtask.broker.embedded import find_server_binary, free_port  # noqa: E402
from redtask.broker.keys import Keys  # noqa: E402
from redtask.broker.model import NewTask  # noqa: E402
from redtask.broker.settings import Settings  # noqa: E402
from redtask.broker.store import open_store  # noqa: E402

NODE_DIR = ROOT / "bench" / "peers_node"
TOPIC = "noop"


def start_redis(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            str(find_server_binary()),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp),
        ],
        stdout=subprocess.DEVNULL,
    )
    return proc, f"redis://127.0.0.1:{port}/0"


async def fill_redtask(url: str, ns: str, n: int) -> None:
    store = await open_store(Settings(redis_url=url, namespace=ns, partitions=1))
    try:
        for i in range(0, n, 1000):
            await store.publish_many([NewTask(TOPIC) for _ in range(min(1000, n - i))])
    finally:
        await store.close()


def remaining_commands(ns: str) -> list[tuple[str, str]]:
    """The commands whose replies add up to the tasks of TOPIC left to run (fetchable at
    priority 0, or locked) in the one partition of ``ns``."""
    keys = Keys(namespace=ns, partitions=1)
    return [("ZCARD", keys.avail(0, TOPIC, 0)), ("ZCARD", keys.locked(0, TOPIC))]


def start_workers(
    cmds: list[list[str]], env: dict[str, str] | None
) -> list[subprocess.Popen[bytes]]:
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, cwd=ROOT, env=env) for c in cmds]
    for p in procs:
        line = p.stdout.readline() if p.stdout else b""
        if line.split()[:1] != [b"ready"]:
            raise RuntimeError(f"worker {p.args} did not start: {line!r}")
        baseline = (env or {}).get("PYTHONPATH")
        package = line.split()[1].decode() if len(line.split()) > 1 else ""
        if baseline and not package.startswith(baseline):
            raise RuntimeError(f"the baseline worker runs {package}, not {baseline}")
    return procs


async def one_round(
    system: str, procs_n: int, url: str, redis_pid: int, args: argparse.Namespace, rnd: int
) -> dict[str, float]:
    client = client_for(url)
    ns = f"pb{uuid.uuid4().hex[:6]}"
    go = f"go:{ns}"
    if system in ("redtask", "baseline", "plain", "onelane", "fixed"):
        await fill_redtask(url, ns, args.jobs)
        remaining_keys = remaining_commands(ns)
        cmds = []
        for i in range(procs_n):
            cmd = [sys.executable, "bench/peers_worker.py", url, ns, TOPIC]
            cmd += [str(args.concurrency), go]
            if system == "plain":
                cmd.append("--no-fetch-ahead")
            if system == "onelane":
                cmd += ["--lanes", "1"]
            if system == "fixed":
                cmd.append("--fixed-lanes")
            if args.profile:
                name = f"{system}-{procs_n}p-r{rnd}-{i}.prof"
                cmd += ["--profile", str(Path(args.profile) / name)]
            cmds.append(cmd)
    else:
        fill = ["node", "fill.mjs", url, ns, str(args.jobs)]
        await asyncio.to_thread(subprocess.run, fill, cwd=NODE_DIR, check=True)
        remaining_keys = [("LLEN", f"bull:{ns}:wait"), ("LLEN", f"bull:{ns}:active")]
        cmds = [
            ["node", str(NODE_DIR / "worker.mjs"), url, ns, str(args.concurrency), go]
            for _ in range(procs_n)
        ]
    env = None
    if system == "baseline":
        env = dict(os.environ, PYTHONPATH=args.baseline)
    procs = start_workers(cmds, env)
    try:
        cpu0 = [process_cpu(p.pid) for p in procs]
        rcpu0 = process_cpu(redis_pid)
        await client.rpush(go, *["go"] * procs_n)
        t0 = time.perf_counter()
        while True:
            async with client.pipeline(transaction=False) as pipe:
                for c in remaining_keys:
                    pipe.execute_command(*c)
                left = sum(await pipe.execute())
            if left == 0:
                break
            await asyncio.sleep(0.002)
        elapsed = time.perf_counter() - t0
        wcpu = sum(process_cpu(p.pid) for p in procs) - sum(cpu0)
        rcpu = process_cpu(redis_pid) - rcpu0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    if system == "bullmq" and int(await client.zcard(f"bull:{ns}:failed")):
        raise RuntimeError("BullMQ jobs failed")
    await client.flushdb()
    await client.aclose()
    n = args.jobs
    row = {"jobs_s": n / elapsed, "worker_us": wcpu / n * 1e6, "redis_us": rcpu / n * 1e6}
    log(
        f"{system} x{procs_n}: {row['jobs_s']:,.0f} jobs/s, cpu {row['worker_us']:.0f}+"
        f"{row['redis_us']:.0f} us/job"
    )
    return row


async def run(args: argparse.Namespace) -> dict[tuple[str, int], list[dict[str, float]]]:
    systems = ("redtask", "bullmq") + (("baseline",) if args.baseline else ())
    systems += ("plain",) if args.no_fetch_ahead_too else ()
    systems += ("onelane",) if args.one_lane_too else ()
    systems += ("fixed",) if args.fixed_lanes_too else ()
    configs = [(s, p) for p in args.processes for s in systems]
    results: dict[tuple[str, int], list[dict[str, float]]] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory(prefix="redtask-peers-") as tmp:
        redis, url = start_redis(Path(tmp))
        try:
            client = client_for(url)
            for _ in range(100):
                try:
                    await client.ping()
                    break
                except Exception:
                    await asyncio.sleep(0.05)
            await client.aclose()
            for rnd in range(args.rounds):
                order = configs if rnd % 2 == 0 else configs[::-1]
                for system, procs_n in order:
                    results[(system, procs_n)].append(
                        await one_round(system, procs_n, url, redis.pid, args, rnd)
                    )
        finally:
            redis.terminate()
            redis.wait(timeout=30)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--processes",
        type=lambda v: tuple(int(n) for n in v.split(",")),
        default=(1, 2),
        help="the numbers of worker processes to run, comma-separated (default 1,2)",
    )
    parser.add_argument("--profile", help="write a cProfile of each redtask worker here")
    parser.add_argument(
        "--no-fetch-ahead-too",
        action="store_true",
        help="also run the redtask worker with complete-and-fetch-next off",
    )
    parser.add_argument(
        "--one-lane-too",
        action="store_true",
        help="also run the redtask worker with one poll lane (no overlap within the process)",
    )
    parser.add_argument(
        "--fixed-lanes-too",
        action="store_true",
        help="also run the redtask worker with both poll lanes always in use (adaptive_lanes off)",
    )
    parser.add_argument(
        "--baseline",
        help="also run the redtask worker of another revision: a directory holding its "
        "package as DIR/redtask (e.g. git archive REV | tar -x -C DIR/redtask)",
    )
    args = parser.parse_args()
    if not (NODE_DIR / "node_modules" / "bullmq").is_dir() or shutil.which("node") is None:
        print("BullMQ is not installed: (cd bench/peers_node && npm install)", file=sys.stderr)
        return 1
    if args.baseline:
        args.baseline = os.path.abspath(args.baseline)
    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
    results = asyncio.run(run(args))

    def med(system: str, procs_n: int, key: str) -> float:
        return statistics.median(r[key] for r in results[(system, procs_n)])

    print(
        f"\n{args.jobs:,} no-op jobs, concurrency {args.concurrency} per worker process, "
        f"{args.rounds} interleaved rounds, medians\n"
    )
    names = {"redtask": "redtask SDK, direct Redis", "bullmq": "BullMQ"}
    names["plain"] = "redtask SDK, direct Redis, complete-and-fetch-next off"
    names["onelane"] = "redtask SDK, direct Redis, one poll lane"
    names["fixed"] = "redtask SDK, direct Redis, two lanes always"
    names["baseline"] = f"redtask SDK, direct Redis, baseline ({args.baseline})"
    print("| system | worker processes | jobs/s | ratio to BullMQ | CPU µs/job (worker + redis) |")
    print("|---|---:|---:|---:|---:|")
    systems = [
        s
        for s in ("redtask", "plain", "onelane", "fixed", "baseline", "bullmq")
        if results.get((s, args.processes[0]))
    ]
    for procs_n in args.processes:
        bq = med("bullmq", procs_n, "jobs_s")
        for system in systems:
            rate = med(system, procs_n, "jobs_s")
            cpu = (
                f"{med(system, procs_n, 'worker_us'):.0f} + {med(system, procs_n, 'redis_us'):.0f}"
            )
            print(f"| {names[system]} | {procs_n} | {rate:,.0f} | {rate / bq:.2f}x | {cpu} |")
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    bull = (NODE_DIR / "node_modules" / "bullmq" / "package.json").read_text()
    bull_version = bull.split('"version":')[1].split('"')[1]
    redis_v = subprocess.run(
        [str(find_server_binary()), "--version"], capture_output=True, text=True
    )
    print(
        f"\nmachine: {cpu_model()}, {nproc()} cores; Python {sys.version.split()[0]}; "
        f"Node {node}; BullMQ {bull_version}; {redis_v.stdout.strip()}"
    )
    print("command: " + shlex.join([".venv/bin/python", "bench/peers.py", *sys.argv[1:]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
