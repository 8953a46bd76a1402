"""`redtask worker` as a process: the worker id it presents by default, and exit 1 when the
worker fails at run time (exit 0 and 2 are covered in test_lifecycle.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from redtask.broker.model import NewTask, TaskState
from redtask.broker.store import Store
from tests.processes import redtask_env
from tests.worker.helpers import ROOT, appears, sleep_for, worker_process


async def test_the_default_worker_id_is_hostname_dash_pid_as_the_broker_sees_it(
    store: Store,
    topic: str,
    transport_kind: str,
    api: str,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    task_id = await store.publish(NewTask(topic, variables=sleep_for(5)))
    with worker_process(env, transport_kind, api, topic, tmp_path, worker_id=None) as proc:
        await appears(tmp_path / f"{task_id}.started")
        task = await store.get(task_id)
        expected = f"{socket.gethostname()}-{proc.pid}"

    assert (task.state, task.worker_id) == (TaskState.LOCKED, expected)
    assert (tmp_path / f"{task_id}.started").read_text() == expected


def test_a_worker_that_fails_at_run_time_exits_1_and_logs_why(redis_url: str) -> None:
    env = {**redtask_env(redis_url, "unused"), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "redtask", "worker", "tests.worker.apps:idle"]
    command += ["--transport", "redis"]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _, stderr = proc.communicate(timeout=60)

    assert proc.returncode == 1, stderr
    assert f"ERROR redtask.worker: worker {socket.gethostname()}-{proc.pid} failed" in stderr
    assert stderr.rstrip().endswith(
        "RuntimeError: the worker has no task handlers; register some with @worker.task"
    )
