"""examples/test_order.py needs no Redis: it passes in a pytest run where no socket can
connect or listen, and quickly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _pytest(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDTASK_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_the_order_example_passes_with_the_network_off() -> None:
    offline = ("-p", "tests.testing.no_network")
    probe = _pytest(*offline, "-q", "tests/testing/test_parity_tasks.py", "-k", "publish and redis")
    example = _pytest(*offline, "-q", "examples/test_order.py")

    # the plugin works: a test that needs the real redis-server cannot start it
    assert probe.returncode != 0
    assert "the network is off for this test run" in probe.stdout
    assert example.returncode == 0, example.stdout + example.stderr
    summary = re.search(r"(\d+) passed in ([\d.]+)s", example.stdout)
    assert summary is not None, example.stdout
    assert int(summary.group(1)) == 5
    print(f"examples/test_order.py: {summary.group(1)} tests in {summary.group(2)} s")
    assert float(summary.group(2)) < 5.0  # it takes about half a second
