"""A worker module for tests that run ``redtask worker`` as a subprocess. Configured by the
environment: APP_TOPIC, APP_MARKS (a directory for per-task marker files), APP_LOCK_MS.

Each task sleeps for its ``sleep`` variable (seconds); ``<id>.started`` / ``<id>.done`` marker
files show the test how far the handler got. ``idle`` is a worker without handlers."""

from __future__ import annotations

import os
import time
from pathlib import Path

from redtask.worker import ExternalTask, Worker

TOPIC = os.environ.get("APP_TOPIC", "app")
MARKS = Path(os.environ.get("APP_MARKS", "."))

worker = Worker(lock_duration=int(os.environ.get("APP_LOCK_MS", "2000")), poll_timeout=1_000)
idle = Worker()


def mark(name: str, text: str) -> None:
    """Write a marker file atomically: a test that sees the file also sees its text, even when
    the worker is killed right after."""
    partial = MARKS / f".{name}.partial"
    partial.write_text(text)
    partial.rename(MARKS / name)


@worker.task(TOPIC)
def handle(task: ExternalTask, sleep: float = 0.0) -> dict[str, object]:
    mark(f"{task.id}.started", task.worker_id)
    time.sleep(sleep)
    mark(f"{task.id}.done", task.worker_id)
    return {"handled_by": task.worker_id}
