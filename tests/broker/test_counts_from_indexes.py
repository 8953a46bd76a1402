"""Counts by topic, lock state and retries come from the per-topic indexes without reading a
task, and queries naming a topic or task ids read only those tasks; both give exactly what a
scan of every task gives, for tasks in every state."""

from __future__ import annotations

import itertools

import pytest

from redtask.broker.model import ExternalTask, NewTask, TopicRequest
from redtask.broker.query import TaskQuery
from redtask.broker.store import Store
from tests.conftest import FakeClock


async def every_state(store: Store, clock: FakeClock) -> None:
    """Tasks on topics a and b: fetchable (two priorities), locked, lease expired, retrying
    (due later and due now), incidents (one with a lock expiring later, one locked again)."""
    ids = await store.publish_many(
        [NewTask(topic="a", priority=p) for p in (0, 0, 5, 5, 0, 0, 0, 0, 0)]
        + [NewTask(topic="b") for _ in range(3)]
    )
    clock.advance(1)
    await store.lock(ids[4], "w", 10_000)  # locked
    await store.lock(ids[5], "w", 10)  # lease expires
    await store.lock(ids[6], "w", 1_000)
    await store.handle_failure(ids[6], "w", "later", None, 2, 60_000)  # retry due later
    await store.lock(ids[7], "w", 1_000)
    await store.handle_failure(ids[7], "w", "soon", None, 2, 5)  # retry due soon
    await store.lock(ids[8], "w", 1_000)
    await store.handle_failure(ids[8], "w", "gave up", None, 0, 60_000)  # incident, le later
    await store.lock(ids[9], "w", 1_000)
    await store.handle_failure(ids[9], "w", "gave up", None, 0, 0)  # incident, le now
    await store.lock(ids[10], "w", 1_000)
    await store.handle_failure(ids[10], "w", "gave up", None, 0, 0)
    await store.lock(ids[10], "w", 30_000)  # an incident task locked again
    clock.advance(100)


def queries() -> list[TaskQuery]:
    out = []
    for topic, locked, retries, active in itertools.product(
        (None, "a", "b", "none"), (False, True), ("", "left", "spent", "both"), (False, True)
    ):
        out.append(
            TaskQuery(
                topic_name=topic,
                locked=locked,
                with_retries_left=retries in ("left", "both"),
                no_retries_left=retries in ("spent", "both"),
                active=active,
            )
        )
    return out


async def scanned(store: Store, query: TaskQuery) -> list[ExternalTask]:
    now = store.clock()
    return [t for t in await store.task_reads._scan_tasks() if query.matches(t, now)]


async def test_every_index_count_equals_the_scan_of_every_task(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await every_state(store, clock)
    expected = {q: len(await scanned(store, q)) for q in queries()}

    async def no_scan() -> list[ExternalTask]:
        raise AssertionError("a count answered from the indexes read the tasks")

    monkeypatch.setattr(store.task_reads, "_scan_tasks", no_scan)
    got = {q: await store.count(q) for q in queries()}

    assert got == expected
    assert expected[TaskQuery()] == 12
    assert expected[TaskQuery(locked=True)] == 4  # locked, retry later, 2 incidents


async def test_a_query_naming_a_topic_or_ids_reads_only_those_tasks(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await every_state(store, clock)
    [task] = await store.fetch_and_lock("w9", 1, [TopicRequest("b", 10_000)])
    narrowed = [
        TaskQuery(topic_name="a"),
        TaskQuery(topic_name="a", worker_id="w", locked=True),
        TaskQuery(topic_name="b", not_locked=True),
        TaskQuery(topic_name="nothing"),
        TaskQuery(external_task_id=task.id),
        TaskQuery(external_task_id_in=(task.id, "missing", task.id)),
        TaskQuery(topic_name="a", external_task_id=task.id),
    ]
    expected = {q: sorted(t.id for t in await scanned(store, q)) for q in narrowed}

    async def no_scan() -> list[ExternalTask]:
        raise AssertionError("a query naming a topic or ids scanned every task")

    monkeypatch.setattr(store.task_reads, "_scan_tasks", no_scan)

    for query in narrowed:
        assert sorted(t.id for t in await store.query(query)) == expected[query]
        assert await store.count(query) == len(expected[query])
    assert [len(expected[q]) for q in narrowed] == [9, 3, 1, 0, 1, 1, 0]
