"""The gateway benchmark's profiles, results and report: the table rows built from the
measured rounds, and the printed report."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.common import metric_row, print_machine, print_metric_table, print_run
from bench.wake import PARK_WAIT_S


@dataclass
class Profile:
    rounds: int
    warmup_s: float  # per (a)/(b) phase, before the measured window
    duration_s: float  # the measured window
    samples: int  # wake-latency samples per variant
    wake_warmup: int = 3  # untimed wake samples first


FULL = Profile(rounds=3, warmup_s=1.0, duration_s=5.0, samples=200)
QUICK = Profile(rounds=1, warmup_s=1.0, duration_s=3.0, samples=20)


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
        rows.append(metric_row(metric, value, target, ok))

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
    c = res.wake.get("crowd")
    if c:
        row(f"(c) the same with {c['parked']:,} polls parked on B for the topic (until one "
            f"answers with the task), p99, ms (n={c['n']}; p50 {c['p50_ms']:.2f})",
            f"{c['p99_ms']:.2f}", "≤ 5", c["p99_ms"] <= 5.0)  # fmt: skip
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
    print_metric_table("redtask gateway benchmark", res.rows, out)
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
    keys = ("git", "nproc", "cpu_model", "python", "platform", "redis_server", "redis_server_mode")
    keys += ("server_stack", "client_stack", "loadavg_at_start", "loadavg_at_end")
    print_machine(res.machine, keys, out)
    print_run(res.command, res.wall_seconds, res.error, "ABORTED", out)
