#!/usr/bin/env python
"""Counts and filtered queries of external tasks with many tasks waiting: a measurement, not a
test (always exits 0).

    .venv/bin/python bench/counts.py [--waiting N]

One private EmbeddedRedis in a temporary directory. N tasks (default 1,000,000) wait on topic
``big``; topic ``small`` holds 100 tasks, 10 of them locked. Each read runs 20 times; the
median and the worst are reported, in ms:

- counts the per-topic indexes answer: everything, ``topicName=big``, ``locked=true``;
- a query naming a topic (``topicName=small``) and one naming ids (``externalTaskIdIn``, 10);
- for contrast, a count that still scans every task (``workerId``) on 10,000 tasks.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from redtask.broker.embedded import EmbeddedRedis  # noqa: E402
from redtask.broker.model import NewTask, TopicRequest  # noqa: E402
from redtask.broker.query import TaskQuery  # noqa: E402
from redtask.broker.settings import Settings  # noqa: E402
from redtask.broker.store import Store, open_store  # noqa: E402

REPEATS = 20


async def timed(read: Callable[[], Awaitable[Any]]) -> tuple[float, float, Any]:
    samples, result = [], None
    for _ in range(REPEATS):
        started = time.perf_counter()
        result = await read()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples), result


async def fill(store: Store, topic: str, total: int) -> None:
    async def batch(n: int) -> None:
        await store.publish_many([NewTask(topic=topic) for _ in range(n)])

    done = 0
    while done < total:
        sizes = [min(1000, total - done - 1000 * i) for i in range(4)]
        sizes = [s for s in sizes if s > 0]
        await asyncio.gather(*(batch(s) for s in sizes))
        done += sum(sizes)


async def main(waiting: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp)) as server:
        settings = Settings(redis_url=server.url, namespace=f"b{uuid.uuid4().hex[:8]}")
        store = await open_store(settings)
        started = time.perf_counter()
        await fill(store, "big", waiting)
        print(f"filled {waiting:,} tasks in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        small = await store.publish_many([NewTask(topic="small") for _ in range(100)])
        await store.fetch_and_lock("w", 10, [TopicRequest("small", 600_000)])
        rows = [
            ("count, no filter", lambda: store.count(TaskQuery())),
            ("count topicName=big", lambda: store.count(TaskQuery(topic_name="big"))),
            ("count locked=true", lambda: store.count(TaskQuery(locked=True))),
            ("query topicName=small", lambda: store.query(TaskQuery(topic_name="small"))),
            (
                "query externalTaskIdIn (10 ids)",
                lambda: store.query(TaskQuery(external_task_id_in=tuple(small[:10]))),
            ),
        ]
        print(f"| read, {waiting:,} tasks waiting | median ms | worst ms | answer |")
        print("|---|---:|---:|---:|")
        for name, read in rows:
            median, worst, result = await timed(read)
            answer = result if isinstance(result, int) else len(result)
            print(f"| {name} | {median:.2f} | {worst:.2f} | {answer:,} |")
        await store.close()

        contrast = await open_store(Settings(redis_url=server.url, namespace="contrast"))
        await fill(contrast, "big", 10_000)
        median, worst, result = await timed(lambda: contrast.count(TaskQuery(worker_id="nobody")))
        print(
            f"| count workerId=nobody (scans), 10,000 tasks | {median:.2f} | {worst:.2f} | "
            f"{result:,} |"
        )
        await contrast.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", type=int, default=1_000_000)
    asyncio.run(main(parser.parse_args().waiting))
