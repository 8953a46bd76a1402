"""A worker's Prometheus metrics count exactly its own tasks by topic (fetched, completed,
failed, BPMN errors, handler durations, lock extensions, in flight), and ``redtask worker
--metrics-port`` serves them, with one JSON log line per task outcome carrying the ids."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from redtask.broker.embedded import free_port
from redtask.broker.model import NewTask
from redtask.broker.store import Store
from redtask.worker import BpmnError, Worker
from redtask.worker.transport.base import Transport
from tests.worker.helpers import appears, eventually, finished, running, worker_process


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics text by (name, sorted labels)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


KINDS = ("ok", "ok", "slow", "fail", "bpmn")


def kind(name: str) -> dict[str, dict[str, object]]:
    return {"kind": {"value": name, "type": "String"}}


async def test_the_metrics_count_each_outcome_of_a_known_sequence_of_tasks(
    store: Store,
    topic: str,
    make_transport: Callable[[], Transport],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="redtask.worker")
    worker = Worker(make_transport(), poll_timeout=1_000, grace=5)
    release = asyncio.Event()

    @worker.task(topic, lock_duration=2_000, retries=1)
    async def work(kind: str) -> dict[str, object]:
        if kind == "fail":
            raise RuntimeError("boom")
        if kind == "bpmn":
            raise BpmnError("E1", "business error")
        if kind == "slow":
            await asyncio.sleep(1.4)  # the lock is extended once, at half its 2 s
        if kind == "hold":
            await release.wait()
        return {}

    ids = [await store.publish(NewTask(topic, variables=kind(k))) for k in KINDS]

    async with running(worker):

        async def all_done() -> bool:
            incident = (await store.get(ids[3])).retries == 0  # retries=1: one retry, then 0
            return incident and all([await finished(store, i) for i in (*ids[:3], ids[4])])

        await eventually(all_done, timeout=20)
        hold = await store.publish(NewTask(topic, variables=kind("hold")))

        async def holding() -> bool:
            return worker.in_flight == 1

        await eventually(holding, timeout=10)
        during = samples(worker.metrics.exposition().decode())
        release.set()
        await eventually(lambda: finished(store, hold), timeout=10)
    after = samples(worker.metrics.exposition().decode())

    t = (("topic", topic),)
    assert during[("redtask_worker_tasks_in_flight", ())] == 1
    assert after[("redtask_worker_tasks_in_flight", ())] == 0
    assert after[("redtask_worker_tasks_fetched_total", t)] == 7  # the failing task twice
    assert after[("redtask_worker_tasks_completed_total", t)] == 4
    assert after[("redtask_worker_tasks_failed_total", t)] == 2
    assert after[("redtask_worker_bpmn_errors_total", t)] == 1
    assert after[("redtask_worker_lock_extensions_total", t)] == 1
    assert after[("redtask_worker_handler_duration_seconds_count", t)] == 7
    # one line per outcome, carrying the task's ids; the backoff's jittered delay aside
    outcomes = sorted(
        (
            r.levelname,
            re.sub(r"in \d+ ms", "in N ms", r.getMessage().split(f"({topic})", 1)[1]),
        )
        for r in caplog.records
        if getattr(r, "topic", None) == topic and r.task_id in ids
    )
    assert outcomes == [
        ("INFO", " completed"),
        ("INFO", " completed"),
        ("INFO", " completed"),
        ("INFO", ": BPMN error E1"),
        ("WARNING", " failed: RuntimeError: boom; no retries left, an incident is raised"),
        ("WARNING", " failed: RuntimeError: boom; retries left 1, next try in N ms"),
    ]
    assert 1.4 <= after[("redtask_worker_handler_duration_seconds_sum", t)] < 5


async def test_redtask_worker_serves_metrics_and_logs_each_outcome_as_one_json_line(
    store: Store,
    topic: str,
    transport_kind: str,
    api: str,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    port = free_port()
    task_id = await store.publish(NewTask(topic))
    with worker_process(
        {**env, "REDTASK_LOG_FORMAT": "json"},
        transport_kind,
        api,
        topic,
        tmp_path,
        worker_id="wm",
        extra=("--metrics-port", str(port)),
    ) as proc:
        await appears(tmp_path / f"{task_id}.done")
        await eventually(lambda: finished(store, task_id), timeout=10)
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/metrics")
        proc.terminate()
        assert await asyncio.to_thread(proc.wait, 15) == 0

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    values = samples(response.text)
    assert values[("redtask_worker_tasks_completed_total", (("topic", topic),))] == 1
    assert values[("redtask_worker_tasks_fetched_total", (("topic", topic),))] == 1
    records = [json.loads(line) for line in (tmp_path / "worker.log").read_text().splitlines()]
    outcome = [r for r in records if r.get("task_id") == task_id]
    assert len(outcome) == 1
    assert outcome[0]["level"] == "INFO"
    assert outcome[0]["message"] == f"task {task_id} ({topic}) completed"
    assert (outcome[0]["topic"], outcome[0]["worker_id"]) == (topic, "wm")
    assert outcome[0]["time"].endswith("Z")
    assert not [r for r in records if r["logger"].startswith("httpx")]
