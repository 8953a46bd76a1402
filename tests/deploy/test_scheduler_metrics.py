"""``redtask scheduler --metrics-port``: Prometheus metrics at GET /metrics beside the probe."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from redtask.broker.embedded import EmbeddedRedis, free_port
from tests.deploy.test_scheduler_health import wait_for_status
from tests.processes import redtask_env


def test_the_scheduler_serves_its_metrics_and_the_probe_on_the_metrics_port(
    tmp_path: Path,
) -> None:
    redis = EmbeddedRedis(tmp_path / "redis").start()
    port = free_port()
    env = redtask_env(redis.url, "metrics")
    command = [sys.executable, "-m", "redtask", "scheduler", "--id", "m1"]
    scheduler = subprocess.Popen([*command, "--metrics-port", str(port)], env=env)
    try:
        wait_for_status(f"http://127.0.0.1:{port}/health/live", 200, within=30)
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        samples = {
            s.name: s
            for family in text_string_to_metric_families(answer.text)
            for s in family.samples
        }
        assert samples["redtask_scheduler_passes_total"].value >= 1
        assert samples["redtask_scheduler_passes_total"].labels == {"scheduler": "m1"}
        assert samples["redtask_scheduler_tasks_swept_total"].value == 0
        assert samples["redtask_scheduler_last_pass_timestamp_seconds"].value > 1.7e9
        assert httpx.post(f"http://127.0.0.1:{port}/metrics").status_code == 405
    finally:
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(20) == 0
        redis.stop()
