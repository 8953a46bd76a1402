"""Stopping and starting the embedded Redis on the same data directory loses nothing."""

from __future__ import annotations

from pathlib import Path

from redtask.broker.connection import client_for
from redtask.broker.embedded import EmbeddedRedis
from redtask.broker.model import NewTask, TopicRequest
from redtask.broker.query import TaskQuery
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from tests.conftest import FakeClock


async def _snapshot(store: Store) -> tuple[object, ...]:
    tasks = sorted(await store.query(TaskQuery()), key=lambda t: t.id)
    return tasks, await store.incidents(), await store.topic_stats(), await store.finished()


async def test_every_task_state_survives_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    settings = Settings(namespace="persist", partitions=4)
    server = EmbeddedRedis(tmp_path).start()
    try:
        store = Store(client_for(server.url), settings, clock)
        variables = {
            "n": {"type": "Long", "value": 2**62 + 1},
            "when": {"type": "Date", "value": "2024-01-02T03:04:05.678+0200"},
            "blob": {"type": "Bytes", "value": "AAEC"},
        }
        await store.publish_many([NewTask("jobs", variables, priority=i % 3) for i in range(40)])
        locked = await store.fetch_and_lock("w1", 20, [TopicRequest("jobs", 60_000)])
        await store.handle_failure(locked[0].id, "w1", "retry me", "trace", 2, 30_000)
        await store.handle_failure(locked[1].id, "w1", "give up", "trace", 0, 0)
        await store.complete(locked[2].id, "w1", {"ok": {"type": "Boolean", "value": True}})
        before = await _snapshot(store)
        await store.close()
    finally:
        server.stop()

    server = EmbeddedRedis(tmp_path).start()
    try:
        store = Store(client_for(server.url), settings, clock)
        after = await _snapshot(store)
        assert after == before
        tasks, incidents, _, finished = after
        assert len(tasks) == 39 and len(incidents) == 1 and len(finished) == 1
        # and the restored data still works: the locked tasks complete, the rest fetch
        await store.complete(locked[3].id, "w1")
        again = await store.fetch_and_lock("w2", 100, [TopicRequest("jobs", 1_000)])
        assert len(again) == 20
        assert again[0].variables == {
            "n": {"type": "Long", "value": 2**62 + 1, "valueInfo": {}},
            "when": {"type": "Date", "value": "2024-01-02T03:04:05.678+0200", "valueInfo": {}},
            "blob": {"type": "Bytes", "value": "AAEC", "valueInfo": {}},
        }
        await store.close()
    finally:
        server.stop()
