"""The worker module of the chaos suite, run as ``redtask worker tests.chaos.app:worker``.

Configured by the environment: CHAOS_TOPIC, CHAOS_LOG (this process's execution log),
CHAOS_LOCK_MS and CHAOS_HANDLER_MS. Each execution of a handler appends one JSON line to the
log (task, worker, pid, lock token, start time, lock expiry, a fresh execution id) with a single
``write`` on an ``O_APPEND`` descriptor: a kill -9 leaves whole lines only, and a line written
before the kill survives it (the page cache outlives the process). The handler completes with
its execution id as a variable, so the finished-task log tells which execution was acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid

from redtask.worker import Backoff, ExternalTask, Worker

TOPIC = os.environ.get("CHAOS_TOPIC", "chaos")
HANDLER_S = int(os.environ.get("CHAOS_HANDLER_MS", "20")) / 1000

worker = Worker(
    lock_duration=int(os.environ.get("CHAOS_LOCK_MS", "2000")),
    poll_timeout=1_000,
    concurrency=8,
    reconnect=Backoff(initial_ms=100, max_ms=500, jitter=0),
)
_log = os.open(
    os.environ.get("CHAOS_LOG", "chaos-executions.jsonl"),
    os.O_WRONLY | os.O_APPEND | os.O_CREAT,
    0o644,
)


@worker.task(TOPIC)
async def handle(task: ExternalTask) -> dict[str, object]:
    execution = uuid.uuid4().hex
    expiry = task.lock_expiration_time
    record = {
        "task": task.id,
        "worker": task.worker_id,
        "pid": os.getpid(),
        "token": task.lock_token,
        "execution": execution,
        "start_ms": time.time() * 1000,
        "lock_expires_ms": expiry.timestamp() * 1000 if expiry else None,
    }
    os.write(_log, (json.dumps(record) + "\n").encode())
    await asyncio.sleep(HANDLER_S)
    return {"execution": execution}
