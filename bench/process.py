#!/usr/bin/env python
"""Process-engine benchmark: a measurement, not a test (always exits 0).

    .venv/bin/python bench/process.py [--quick] [--instances N] [--json PATH]

In ONE run against one Redis (a private EmbeddedRedis unless ``--redis-url``) and one real
``redtask gateway`` process, alternating rounds of:

(a) external-task REST path: tasks published through ``POST /redtask/topics/{t}/tasks``, then
    workers doing ``fetchAndLock(maxTasks=10)`` + one ``complete`` per task; tasks/s.
(b) process path: instances of start -> one external task -> end started through
    ``POST /process-definition/key/{key}/start``, the same workers completing their tasks,
    until every instance has ended; instances/s (start and completion both timed).

Also the Redis server's CPU time per task of (a) and per instance of (b) and (d) (INFO cpu deltas:
less sensitive than rates to other load on the machine).

(d) call activity path: as (b), but each instance is a caller whose call activity starts an
    instance of that one-task process (start -> call activity -> end); caller instances/s,
    and (d)/(b): the cost of calling against the same work flattened into one process.

(c) history cost: after the last round, the Redis memory each ended instance of (b) keeps for
    ``REDTASK_HISTORY_TTL_S`` (MEMORY USAGE, averaged over up to 200 instances): its hash
    ``pi:<id>`` (state, meta), its activity instances ``ha:<id>``, its external-task log
    ``hx:<id>``, and its share of the ended-instance index ``pih``.

(e) multi-instance fan-out: one instance of start -> a parallel multi-instance external task of
    ``--fan-out`` instances (default 1,000) -> end, started over REST; the same workers complete
    the tasks (all of one instance: each completion is a version-checked step of the same
    state) until the instance has ended; tasks/s, and its ratio to (a) of the same round.

Prints a table with medians and the ratios (b)/(a), (d)/(b) and (e)/(a); Camunda 7 on a
relational database is usually quoted at about 100-500 instances/s for a process like (b).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402

from bench.common import redis_to_measure  # noqa: E402
from bench.servers import gateway_args, redtask_env, server_process  # noqa: E402

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="bench">
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="work" />
    <bpmn:serviceTask id="work" camunda:type="external" camunda:topic="{topic}" />
    <bpmn:sequenceFlow id="f1" sourceRef="work" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""
CALLER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="c"
    targetNamespace="bench">
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="call" />
    <bpmn:callActivity id="call" calledElement="{called}" />
    <bpmn:sequenceFlow id="f1" sourceRef="call" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""
FAN_OUT_BPMN = BPMN.replace(
    'camunda:topic="{topic}" />',
    'camunda:topic="{topic}"><bpmn:multiInstanceLoopCharacteristics>'
    "<bpmn:loopCardinality>${{n}}</bpmn:loopCardinality>"
    "</bpmn:multiInstanceLoopCharacteristics></bpmn:serviceTask>",
)
WORKERS = 8
STARTERS = 8


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _work(client: httpx.AsyncClient, rest: str, topic: str, stop: asyncio.Event) -> int:
    """Fetch 10 and complete each until ``stop``; returns the tasks completed."""
    done = 0
    body = {
        "workerId": "bench",
        "maxTasks": 10,
        "topics": [{"topicName": topic, "lockDuration": 60_000}],
    }
    while not stop.is_set():
        tasks = (await client.post(f"{rest}/external-task/fetchAndLock", json=body)).json()
        if not tasks:
            await asyncio.sleep(0.005)
            continue
        for task in tasks:
            response = await client.post(
                f"{rest}/external-task/{task['id']}/complete", json={"workerId": "bench"}
            )
            assert response.status_code == 204, response.text
            done += 1
    return done


async def _run_workers(base: str, topic: str, until: Any) -> float:
    """Start the workers, wait for ``until()`` to be true, return the elapsed seconds."""
    rest = f"{base}/engine-rest"
    stop = asyncio.Event()
    clients = [httpx.AsyncClient(timeout=30) for _ in range(WORKERS)]
    started = time.perf_counter()
    workers = [asyncio.create_task(_work(c, rest, topic, stop)) for c in clients]
    await until()
    elapsed = time.perf_counter() - started
    stop.set()
    await asyncio.gather(*workers)
    for c in clients:
        await c.aclose()
    return elapsed


async def external_round(base: str, n: int) -> float:
    topic = f"ext-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(timeout=60) as client:
        for start in range(0, n, 500):
            response = await client.post(
                f"{base}/redtask/topics/{topic}/tasks", json=[{}] * min(500, n - start)
            )
            assert response.status_code == 201, response.text

        async def drained() -> None:
            while True:
                stats = (await client.get(f"{base}/redtask/topics")).json()
                left = sum(s["available"] + s["locked"] for s in stats if s["topicName"] == topic)
                if left == 0:
                    return
                await asyncio.sleep(0.01)

        elapsed = await _run_workers(base, topic, drained)
    return n / elapsed


async def _deploy(client: httpx.AsyncClient, rest: str, bpmn: str, key: str, topic: str) -> None:
    xml = bpmn.format(key=key, topic=topic).encode()
    files = {"data": (f"{key}.bpmn", xml, "application/xml")}
    deployed = await client.post(f"{rest}/deployment/create", files=files)
    assert deployed.status_code == 200, deployed.text


async def _ended(client: httpx.AsyncClient, rest: str, key: str) -> None:
    while True:
        count = await client.get(
            f"{rest}/process-instance/count", params={"processDefinitionKey": key}
        )
        if count.json()["count"] == 0:
            return
        await asyncio.sleep(0.01)


async def fan_out_round(base: str, n: int) -> float:
    """(e): one instance fanning out to ``n`` external tasks; tasks/s until it has ended."""
    key = f"fan{uuid.uuid4().hex[:8]}"
    topic = f"fan-{key}"
    rest = f"{base}/engine-rest"
    async with httpx.AsyncClient(timeout=60) as client:
        await _deploy(client, rest, FAN_OUT_BPMN, key, topic)

        async def started_and_ended() -> None:
            variables = {"n": {"type": "Integer", "value": n}}
            started = await client.post(
                f"{rest}/process-definition/key/{key}/start", json={"variables": variables}
            )
            assert started.status_code == 200, started.text
            await _ended(client, rest, key)

        elapsed = await _run_workers(base, topic, started_and_ended)
    return n / elapsed


async def process_round(base: str, n: int, call: bool = False) -> float:
    """Instances/s of (b), or with ``call`` of (d): the started process calls the one-task one."""
    key = f"bench{uuid.uuid4().hex[:8]}"
    topic = f"proc-{key}"
    rest = f"{base}/engine-rest"
    async with httpx.AsyncClient(timeout=60) as client:
        files = [("data", (f"{key}.bpmn", BPMN.format(key=key, topic=topic).encode(), "text/xml"))]
        if call:
            caller, key = CALLER.format(key=f"{key}c", called=key).encode(), f"{key}c"
            files.append(("data", (f"{key}.bpmn", caller, "application/xml")))
        deployed = await client.post(f"{rest}/deployment/create", files=files)
        assert deployed.status_code == 200, deployed.text

        async def start_all() -> None:
            async def starter(count: int) -> None:
                async with httpx.AsyncClient(timeout=60) as c:
                    for _ in range(count):
                        r = await c.post(f"{rest}/process-definition/key/{key}/start", json={})
                        assert r.status_code == 200, r.text

            share = [n // STARTERS + (1 if i < n % STARTERS else 0) for i in range(STARTERS)]
            await asyncio.gather(*(starter(k) for k in share))

        async def all_ended() -> None:
            await start_all()
            await _ended(client, rest, key)

        elapsed = await _run_workers(base, topic, all_ended)
    return n / elapsed


async def history_cost(url: str, namespace: str, sample: int = 200) -> dict[str, float]:
    """Average MEMORY USAGE (bytes) of what an ended instance keeps, per key (see (c))."""
    prefix = f"{{{namespace}:0}}:"
    client = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        ids = await client.zrange(f"{prefix}pih", 0, sample - 1)
        cost: dict[str, float] = {}
        for part in ("pi", "ha", "hx"):
            sizes = [await client.memory_usage(f"{prefix}{part}:{i}", samples=0) or 0 for i in ids]
            cost[part] = sum(sizes) / max(len(sizes), 1)
        index = await client.memory_usage(f"{prefix}pih", samples=0) or 0
        cost["pih"] = index / max(await client.zcard(f"{prefix}pih"), 1)
        return cost
    finally:
        await client.aclose()


async def redis_cpu_s(url: str) -> float:
    """The Redis server's CPU time so far (user + system), seconds."""
    client = aioredis.Redis.from_url(url)
    try:
        info = await client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    finally:
        await client.aclose()


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    namespace = f"pb{uuid.uuid4().hex[:6]}"
    env = redtask_env(url, namespace, REDTASK_SCHEDULER_INTERVAL_MS="20")
    results: dict[str, Any] = {
        "external_tasks_per_s": [],
        "instances_per_s": [],
        "redis_cpu_us_per_task": [],
        "redis_cpu_us_per_instance": [],
        "call_instances_per_s": [],
        "redis_cpu_us_per_call": [],
        "fan_out_tasks_per_s": [],
    }
    with server_process("gateway", gateway_args(), env) as gateway:
        base = gateway.base
        for round_no in range(args.rounds):
            log(f"round {round_no + 1}/{args.rounds}")
            cpu = await redis_cpu_s(url)
            results["external_tasks_per_s"].append(await external_round(base, args.instances))
            cpu, before = await redis_cpu_s(url), cpu
            results["redis_cpu_us_per_task"].append((cpu - before) * 1e6 / args.instances)
            results["instances_per_s"].append(await process_round(base, args.instances))
            cpu, before = await redis_cpu_s(url), cpu
            results["redis_cpu_us_per_instance"].append((cpu - before) * 1e6 / args.instances)
            results["call_instances_per_s"].append(
                await process_round(base, args.instances, call=True)
            )
            cpu, before = await redis_cpu_s(url), cpu
            results["redis_cpu_us_per_call"].append((cpu - before) * 1e6 / args.instances)
            results["fan_out_tasks_per_s"].append(await fan_out_round(base, args.fan_out))
        results["history_bytes"] = await history_cost(url, namespace)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer instances and rounds")
    parser.add_argument("--instances", type=int, help="instances (and tasks) per round")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--fan-out", type=int, default=1_000, help="instances of (e)")
    parser.add_argument("--redis-url")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    args.instances = args.instances or (500 if args.quick else 2_000)
    args.rounds = args.rounds or (1 if args.quick else 3)
    started = time.perf_counter()
    with redis_to_measure(args.redis_url) as (url, embedded):
        results = asyncio.run(run(args, url))
    redis_mode = "embedded (AOF everysec)" if embedded else "external"
    ext = statistics.median(results["external_tasks_per_s"])
    inst = statistics.median(results["instances_per_s"])
    calls = statistics.median(results["call_instances_per_s"])
    fan = statistics.median(results["fan_out_tasks_per_s"])
    rows = [
        (
            "(a) external-task REST, tasks/s (fetchAndLock 10 + complete, 8 workers)",
            results["external_tasks_per_s"],
            ext,
        ),
        (
            "(b) process start -> external task -> end over REST, instances/s (8 starters, "
            "8 workers)",
            results["instances_per_s"],
            inst,
        ),
        (
            "(d) start -> call activity (calling (b)'s process) -> end over REST, caller "
            "instances/s",
            results["call_instances_per_s"],
            calls,
        ),
    ]
    print("\n## redtask process benchmark\n")
    print("| metric | value | reference |")
    print("|---|---:|---|")
    for name, values, median in rows:
        shown = ", ".join(f"{v:,.0f}" for v in values)
        print(f"| {name} (median of {len(values)}: {shown}) | {median:,.0f} | — |")
    print(f"| (b)/(a) | {inst / ext:.2f} | — |")
    print(f"| (d)/(b): a call activity against the same work flattened | {calls / inst:.2f} | — |")
    values = results["fan_out_tasks_per_s"]
    shown = ", ".join(f"{v:,.0f}" for v in values)
    print(
        f"| (e) one instance, parallel multi-instance of {args.fan_out:,} external tasks, "
        f"tasks/s (8 workers) (median of {len(values)}: {shown}) | {fan:,.0f} | — |"
    )
    per_round = zip(values, results["external_tasks_per_s"], strict=True)
    ratios = ", ".join(f"{d / a:.2f}" for d, a in per_round)
    print(f"| (e)/(a), per round: {ratios} | {fan / ext:.2f} | — |")
    for name, key in (
        ("(a) Redis CPU per task, µs", "redis_cpu_us_per_task"),
        ("(b) Redis CPU per instance, µs", "redis_cpu_us_per_instance"),
        ("(d) Redis CPU per caller instance (with its called one), µs", "redis_cpu_us_per_call"),
    ):
        values = results[key]
        shown = ", ".join(f"{v:,.0f}" for v in values)
        median = statistics.median(values)
        print(f"|   {name} (median of {len(values)}: {shown}) | {median:,.0f} | — |")
    cost = results["history_bytes"]
    parts = ", ".join(f"{name} {cost[name]:,.0f}" for name in ("pi", "ha", "hx", "pih"))
    print(
        f"| (c) Redis bytes an ended instance of (b) keeps for its history ({parts}) "
        f"| {sum(cost.values()):,.0f} | — |"
    )
    print("| Camunda 7 on a relational database, instances/s | — | about 100-500 |")
    print(
        f"\nMachine: {os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}, Redis {redis_mode}"
    )
    print(f"Command: `{' '.join([sys.executable, *sys.argv])}`")
    print(f"Wall time: {time.perf_counter() - started:.1f}s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
