"""What every benchmark script shares: progress logging, percentiles, Redis house-keeping,
the Redis to measure against, a description of the machine and code measured, and the report's
table, machine and command blocks."""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import redis.asyncio as aioredis

from redtask.broker.embedded import EmbeddedRedis

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def process_cpu(pid: int) -> float:
    """utime + stime of a process, seconds (a /proc read: fast, nothing to await)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# ---------------------------------------------------------------------------------- redis
@contextmanager
def redis_to_measure(url: str | None) -> Iterator[tuple[str, bool]]:
    """(url, embedded): ``url`` if given, else a private EmbeddedRedis (the broker's own
    configuration: AOF everysec, noeviction) in a temporary directory, stopped afterwards."""
    if url:
        yield url, False
        return
    with tempfile.TemporaryDirectory(prefix="redtask-bench-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis")
        server.start()
        try:
            yield server.url, True
        finally:
            server.stop()


async def wait_persistence_idle(client: aioredis.Redis, limit_s: float = 180.0) -> float:
    """Wait until no AOF rewrite / RDB save runs (a forked child skews timing and memory)."""
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
    """UNLINK every key whose name contains the namespace; returns how many."""
    deleted, cursor = 0, 0
    while True:
        cursor, keys = await client.scan(cursor, match=f"*{ns}*", count=10_000)
        if keys:
            deleted += await client.unlink(*keys)
        if cursor == 0:
            return deleted


# ---------------------------------------------------------------------------------- machine
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 0


def python_version() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


def git_state(*packages: str) -> tuple[str, list[str]] | None:
    """Which code was measured: the short HEAD commit and those of ``packages`` (top-level
    folders) with uncommitted changes, as ``["broker/", ...]``; None if git cannot tell.
    Read-only git."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", *packages],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.split("\n")  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return head, sorted({line[3:].split("/")[0] + "/" for line in dirty if line[3:]})


# ---------------------------------------------------------------------------------- report
def metric_row(
    metric: str, value: str, target: str = "—", ok: bool | None = None
) -> dict[str, str]:
    """One row of a "metric | value | target | ok?" table."""
    return {
        "metric": metric, "value": value, "target": target,
        "ok": "—" if ok is None else ("yes" if ok else "NO"),
    }  # fmt: skip


def print_metric_table(title: str, rows: Sequence[dict[str, str]], out: TextIO) -> None:
    print(f"\n## {title}\n", file=out)
    print("| metric | value | target | ok? |", file=out)
    print("|---|---:|---|---|", file=out)
    for r in rows:
        print(f"| {r['metric']} | {r['value']} | {r['target']} | {r['ok']} |", file=out)


def print_machine(machine: dict[str, Any], keys: Sequence[str], out: TextIO) -> None:
    print("\nMachine:", file=out)
    for key in keys:
        print(f"- {key}: {machine.get(key)}", file=out)


def print_run(
    command: str, wall_seconds: float, error: str | None, failed: str, out: TextIO
) -> None:
    """The command, wall time and, if the run broke off, ``failed`` ("ABORTED", "FAILED")."""
    print(f"\nCommand: `{command}` (cwd {os.getcwd()})", file=out)
    print(f"Wall time: {wall_seconds:.1f}s", file=out)
    if error:
        print(f"\n{failed}: {error} (the table holds what was measured before)", file=out)
