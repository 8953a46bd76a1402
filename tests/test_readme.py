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
