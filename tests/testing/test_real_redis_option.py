"""``--redtask-redis-url`` runs the plugin's broker on a real Redis: examples/test_order.py
passes there too, each test in a namespace of its own that is gone afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from redtask.broker.connection import client_for

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
    import fakeredis


    async def test_the_broker_is_on_the_real_redis(redtask_broker):
        assert not isinstance(redtask_broker.store.redis, fakeredis.FakeAsyncRedis)
        assert redtask_broker.settings.namespace.startswith("redtask-test-")
        await redtask_broker.publish("probe", {"n": 1})
        (await redtask_broker.topic("probe")).has_tasks(1)
"""


@pytest.mark.slow
async def test_the_order_example_passes_on_a_real_redis(redis_url: str, tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(textwrap.dedent(PROBE))
    client = client_for(redis_url)
    try:
        before = (await client.info("stats"))["total_commands_processed"]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-c",
                str(ROOT / "pyproject.toml"),
                f"--redtask-redis-url={redis_url}",
                "examples/test_order.py",
                str(probe),
            ],
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if not k.startswith("REDTASK_")},
            capture_output=True,
            text=True,
            timeout=300,
        )
        after = (await client.info("stats"))["total_commands_processed"]
        left = [k async for k in client.scan_iter("*redtask-test-*", count=1000)]
    finally:
        await client.aclose()

    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout
    assert after - before > 200  # the scripts ran there
    assert left == []
