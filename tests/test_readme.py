"""The README's worker example runs as written (against the test Redis)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from redtask.broker.connection import client_for
from redtask.broker.settings import Settings
from redtask.broker.store import Store

README = Path(__file__).resolve().parents[1] / "README.md"


async def test_the_readme_worker_example_completes_its_task(redis_url: str) -> None:
    text = README.read_text()
    match = re.search(r"## A worker, straight on Redis\n\n```python\n(.*?)```", text, re.S)
    assert match, "the README lost its worker example"
    code = match.group(1).replace("redis://127.0.0.1:6379/0", redis_url)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    store = Store(client_for(redis_url), Settings())
    try:
        assert await store.topic_stats() == []  # published, fetched and completed
        [entry] = [e for e in await store.finished(1000) if e["t"] == "charge-card"]
        assert entry["outcome"] == "complete"
        assert '"charged":{"type":"Boolean","value":true' in entry["v"]
    finally:
        keys = [k async for k in store.redis.scan_iter(match="*redtask*")]
        if keys:
            await store.redis.delete(*keys)
        await store.close()


def test_the_readme_testing_example_is_a_test_the_suite_runs() -> None:
    """The README's test of the order process is examples/test_order.py's, verbatim (the suite
    collects examples/)."""
    text = README.read_text()
    match = re.search(r"## Testing your workers and processes\n.*?```python\n(.*?)```", text, re.S)
    assert match, "the README lost its testing example"
    example = README.with_name("examples") / "test_order.py"
    assert match.group(1).startswith("async def test_")
    assert match.group(1) in example.read_text()
