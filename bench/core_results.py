"""The core benchmark's profiles, results and report: the table rows built from the measured
rounds, and the printed report."""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass, field
from typing import Any

from bench.common import metric_row, print_machine, print_metric_table, print_run


@dataclass
class Profile:
    rounds: int
    ab_tasks: int  # tasks per (a) round and per (b) round
    small: int  # waiting tasks for the small latency point
    big: int  # waiting tasks for the big latency point / memory fill
    samples: int  # latency samples per point
    warmup: int
    fill_batch: int = 1000
    fill_concurrency: int = 4


FULL = Profile(rounds=10, ab_tasks=10_000, small=1_000, big=1_000_000, samples=5_000, warmup=300)
QUICK = Profile(rounds=4, ab_tasks=4_000, small=1_000, big=100_000, samples=2_000, warmup=200)


@dataclass
class Results:
    command: str
    profile: dict[str, Any]
    machine: dict[str, Any] = field(default_factory=dict)
    raw_rounds: list[dict[str, float]] = field(default_factory=list)
    store_rounds: list[dict[str, float]] = field(default_factory=list)
    latency: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    fill: dict[str, Any] = field(default_factory=dict)
    wall_seconds: float = 0.0
    error: str | None = None
    rows: list[dict[str, str]] = field(default_factory=list)


def build_rows(res: Results) -> list[dict[str, str]]:
    prof = res.profile
    rows: list[dict[str, str]] = []

    def row(metric: str, value: str, target: str = "—", ok: bool | None = None) -> None:
        rows.append(metric_row(metric, value, target, ok))

    def rates(rounds: list[dict[str, float]], key: str) -> list[float]:
        return [r[key] for r in rounds]

    if res.raw_rounds and res.store_rounds:
        a = statistics.median(rates(res.raw_rounds, "tasks_per_s"))
        b = statistics.median(rates(res.store_rounds, "tasks_per_s"))
        each = ", ".join(f"{x:,.0f}" for x in rates(res.raw_rounds, "tasks_per_s"))
        row(f"(a) raw Lua floor, tasks/s (median of {len(res.raw_rounds)}: {each})", f"{a:,.0f}")
        each = ", ".join(f"{x:,.0f}" for x in rates(res.store_rounds, "tasks_per_s"))
        n = len(res.store_rounds)
        row(f"(b) store publish+fetch+complete, tasks/s (median of {n}: {each})", f"{b:,.0f}")
        row("(b)/(a)", f"{b / a:.2f}", "≥ 0.50", b / a >= 0.50)
        pairs = [y["tasks_per_s"] / x["tasks_per_s"]
                 for x, y in zip(res.raw_rounds, res.store_rounds, strict=False)]  # fmt: skip
        row("  (b)/(a) median of per-round ratios", f"{statistics.median(pairs):.2f}")
        pub = statistics.median(rates(res.store_rounds, "publish_per_s"))
        con = statistics.median(rates(res.store_rounds, "consume_per_s"))
        row("  (b) publish_many(100) only, tasks/s (median)", f"{pub:,.0f}")
        row("  (b) fetch_and_lock(10)+complete_many only, tasks/s (median)", f"{con:,.0f}")
        row("  (b) consume-only / (a)", f"{con / a:.2f}")
    lat = res.latency
    if "big" in lat and "small_interleaved" in lat:
        bg, sm = lat["big"], lat["small_interleaved"]
        small_n, big_n = f"{prof['small']:,}", f"{prof['big']:,}"
        for q in ("p50", "p99"):
            row(f"(c) fetch_and_lock(1) {q} @ {small_n} waiting in the topic, ms",
                f"{sm[q + '_ms']:.3f}")  # fmt: skip
        for q in ("p50", "p99"):
            row(f"(c) fetch_and_lock(1) {q} @ {big_n} waiting in the topic, ms",
                f"{bg[q + '_ms']:.3f}")  # fmt: skip
        for q in ("p50", "p99"):
            ratio = bg[q + "_ms"] / sm[q + "_ms"]
            row(f"(c) {q} ratio {big_n} / {small_n}", f"{ratio:.2f}", "≤ 1.2", ratio <= 1.2)
        if "small_alone" in lat:
            s = lat["small_alone"]
            row(f"  (c) p50 / p99 @ {small_n} waiting, nothing else in Redis (before + after"
                " the fill; not simultaneous, so noisier), ms",
                f"{s['p50_ms']:.3f} / {s['p99_ms']:.3f}")  # fmt: skip
            row(f"  (c) p50 ratio {big_n} in topic / {small_n} with nothing else in Redis",
                f"{bg['p50_ms'] / s['p50_ms']:.2f}")  # fmt: skip
    if res.memory:
        m = res.memory
        row(f"(d) Redis used_memory per waiting task (no variables, {m['tasks']:,} tasks), bytes",
            f"{m['bytes_per_task']:.0f}", "≤ 300", m["bytes_per_task"] <= 300)  # fmt: skip
        if m.get("task_hash_bytes") is not None:
            row("  (d) MEMORY USAGE of one task hash incl. key (avg of 100), bytes",
                f"{m['task_hash_bytes']:.0f}")  # fmt: skip
        if m.get("avail_zset_bytes_per_task") is not None:
            enc = m["avail_zset_encoding"]
            row(f"  (d) MEMORY USAGE of the waiting ZSET / tasks ({enc}), bytes",
                f"{m['avail_zset_bytes_per_task']:.0f}")  # fmt: skip
    if res.fill:
        row(f"  fill: publish_many({res.profile['fill_batch']}) x{res.profile['fill_concurrency']}"
            " concurrent, tasks/s", f"{res.fill['tasks_per_s']:,.0f}")  # fmt: skip
    return rows


def print_report(res: Results) -> None:
    out = sys.stdout
    print_metric_table("redtask core benchmark", res.rows, out)
    keys: tuple[str, ...] = ("git", "nproc", "cpu_model", "python", "platform", "redis_server")
    keys += ("redis_server_mode", "redis_py", "hiredis", "loadavg_at_start", "loadavg_at_end")
    print_machine(res.machine, keys, out)
    print_run(res.command, res.wall_seconds, res.error, "ABORTED", out)
