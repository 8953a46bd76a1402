"""The test kit's broker behaves the same on fakeredis as on a real redis-server: every transition
runs once on each (``backend``: a fresh in-memory server, or the session's redis-server of
tests/conftest.py in a namespace of its own) and the record it leaves, with random ids named in
order of appearance and times relative to the clock's start, equals one expected literal.

This file: the transitions of standalone tasks (publish, fetch with filters, complete, failure
and incident, BPMN error, lock extension, unlock and lock, sweeps), and the harness itself.
tests/testing/test_parity_processes.py: process instances."""

from __future__ import annotations

import re
from typing import Any

from redtask.broker.errors import (
    DuplicateTask,
    LockExpired,
    StaleLock,
    TaskNotFound,
    WorkerMismatch,
)
from redtask.broker.model import NewTask, TopicRequest
from redtask.testing import SweepResult, TestBroker
from tests.testing.parity_helpers import Names, fetched, refused, task_record


async def test_publish(kit: TestBroker) -> None:
    names = Names()
    a = await kit.publish("charge", {"amount": 42.5, "card": "visa"}, priority=5, business_key="o1")
    kit.clock.advance(1)
    b = await kit.publish("charge", {"big": 2**40, "ok": True}, retries=3, tenant_id="acme")
    duplicate = await refused(names, kit.store.publish(NewTask("charge", id=a)))

    records = [task_record(await kit.store.get(i), names) for i in (a, b)]

    assert records == [
        {
            "id": "task1",
            "topic": "charge",
            "state": "a",
            "priority": 5,
            "retries": None,
            "worker": None,
            "until": None,
            "token": 0,
            "error": None,
            "details": None,
            "business_key": "o1",
            "tenant": None,
            "variables": {"amount": ("Double", 42.5), "card": ("String", "visa")},
            "incident": None,
            "created": 0,
        },
        {
            "id": "task2",
            "topic": "charge",
            "state": "a",
            "priority": 0,
            "retries": 3,
            "worker": None,
            "until": None,
            "token": 0,
            "error": None,
            "details": None,
            "business_key": None,
            "tenant": "acme",
            "variables": {"big": ("Long", 2**40), "ok": ("Boolean", True)},
            "incident": None,
            "created": 1,
        },
    ]
    assert duplicate[0] == DuplicateTask.__name__
    assert [(s.topic_name, s.available) for s in await kit.store.topic_stats()] == [("charge", 2)]


async def test_fetch_and_lock_with_filters(kit: TestBroker) -> None:
    names = Names()
    published = [
        ("ship", {"region": "eu", "weight": 3}, 0, "A", None),
        ("ship", {"region": "us", "weight": 2**53 + 1}, 10, "B", "acme"),
        ("ship", {"region": "us"}, 2**63 - 1, "A", None),
        ("ship", {"region": "eu"}, -5, "C", None),
        ("bill", {"region": "eu"}, 0, "A", None),
    ]
    for topic, variables, priority, key, tenant in published:
        task_id = await kit.publish(
            topic, variables, priority=priority, business_key=key, tenant_id=tenant
        )
        names(task_id, "task")
        kit.clock.advance(1)

    async def fetch(*topics: TopicRequest, use_priority: bool = True) -> list[tuple[Any, ...]]:
        got = await kit.store.fetch_and_lock("w", 10, topics, use_priority=use_priority)
        return fetched(got, names)

    steps = [
        await fetch(TopicRequest("ship", 1000, process_variables={"weight": 2**53})),
        await fetch(TopicRequest("ship", 1000, process_variables={"weight": 2**53 + 1})),
        await fetch(TopicRequest("ship", 2000, business_key="A", variables=("region",))),
        await fetch(TopicRequest("ship", 3000, tenant_id_in=("acme",))),
        await fetch(
            TopicRequest("ship", 4000, without_tenant_id=True, variables=()),
            TopicRequest("bill", 500, variables=()),
            use_priority=False,
        ),
        await fetch(TopicRequest("ship", 1000), TopicRequest("bill", 1000)),
    ]

    assert steps == [
        [],
        [("task2", 1, 1005, {"region": "us", "weight": 2**53 + 1})],
        [("task3", 1, 2005, {"region": "us"}), ("task1", 1, 2005, {"region": "eu"})],
        [],
        [("task5", 1, 505, {}), ("task4", 1, 4005, {})],
        [],
    ]


async def test_complete(kit: TestBroker) -> None:
    names = Names()
    task_id = await kit.publish("pay", {"n": 1})
    names(task_id, "task")
    [task] = await kit.store.fetch_and_lock("w1", 1, [TopicRequest("pay", 1000)])

    other_worker = await refused(names, kit.store.complete(task_id, "w2", {}))
    stale = await refused(names, kit.store.complete(task_id, "w1", {}, lock_token=7))
    await kit.store.complete(
        task_id, "w1", {"paid": {"type": "Boolean", "value": True}}, lock_token=task.lock_token
    )
    again = await refused(names, kit.store.complete(task_id, "w1", {}))
    log = [
        {k: names.text(v) for k, v in entry.items() if k in ("id", "t", "outcome")}
        for entry in await kit.store.finished()
    ]

    assert other_worker[0] == WorkerMismatch.__name__
    assert stale[0] == StaleLock.__name__
    assert again[0] == TaskNotFound.__name__
    assert (other_worker[1], stale[1], again[1]) == (
        names.text(str(WorkerMismatch(task_id, "w2", "w1", "complete"))),
        names.text(str(StaleLock(task_id, 7, 1))),
        names.text(str(TaskNotFound(task_id))),
    )
    assert log == [{"id": "task1", "t": "pay", "outcome": "complete"}]
    assert await kit.store.topic_stats() == []


async def test_failure_with_retries_then_an_incident(kit: TestBroker) -> None:
    names = Names()
    task_id = await kit.publish("mail", {"to": "x@example.org"})
    names(task_id, "task")
    request = [TopicRequest("mail", 10_000)]
    [task] = await kit.store.fetch_and_lock("w", 1, request)

    state = await kit.store.handle_failure(
        task_id, "w", "smtp down", "trace 1", 2, 5_000, lock_token=task.lock_token
    )
    after_failure = task_record(await kit.store.get(task_id), names)
    early = await kit.store.fetch_and_lock("w", 1, request)
    not_yet = await kit.advance(4.999)
    due = await kit.advance(0.001)
    [task] = await kit.store.fetch_and_lock("w", 1, request)
    last = await kit.store.handle_failure(
        task_id, "w", "smtp gone", "trace 2", 0, 0, lock_token=task.lock_token
    )
    incident = task_record(await kit.store.get(task_id), names)
    incidents = [
        (names(i.id, "incident"), names(i.configuration, "task"), i.topic_name, i.incident_message)
        for i in await kit.store.incidents()
    ]
    stats = [(s.topic_name, s.available, s.incidents) for s in await kit.store.topic_stats()]
    await kit.store.set_retries(task_id, 1)
    resolved = task_record(await kit.store.get(task_id), names)

    mail = {
        "id": "task1",
        "topic": "mail",
        "priority": 0,
        "worker": "w",
        "business_key": None,
        "tenant": None,
        "variables": {"to": ("String", "x@example.org")},
        "created": 0,
    }
    assert (str(state), str(last)) == ("r", "i")
    assert after_failure == {
        **mail,
        "state": "r",
        "retries": 2,
        "until": 5_000,
        "token": 1,
        "error": "smtp down",
        "details": "trace 1",
        "incident": None,
    }
    assert early == []
    assert (not_yet, due) == (SweepResult(), SweepResult(moved=1))
    assert incident == {
        **mail,
        "state": "i",
        "retries": 0,
        "until": 5_000,  # the failure's time: a retry timeout of 0
        "token": 2,
        "error": "smtp gone",
        "details": "trace 2",
        "incident": "incident1",
    }
    assert incidents == [("incident1", "task1", "mail", "smtp gone")]
    assert stats == [("mail", 0, 1)]
    assert resolved == {**incident, "state": "a", "retries": 1, "incident": None}
    assert await kit.store.incidents() == []


async def test_bpmn_error_on_a_standalone_task(kit: TestBroker) -> None:
    names = Names()
    task_id = await kit.publish("score", {"n": 1})
    names(task_id, "task")
    [task] = await kit.store.fetch_and_lock("w", 1, [TopicRequest("score", 1000)])

    mismatch = await refused(names, kit.store.handle_bpmn_error(task_id, "w2", "LOW"))
    await kit.store.handle_bpmn_error(task_id, "w", "LOW", "too low", lock_token=task.lock_token)
    gone = await refused(names, kit.store.get(task_id))
    log = [
        {k: names.text(v) for k, v in entry.items() if k in ("id", "t", "outcome")}
        for entry in await kit.store.finished()
    ]

    assert mismatch[0] == WorkerMismatch.__name__
    assert gone == (TaskNotFound.__name__, names.text(str(TaskNotFound(task_id))))
    assert log == [{"id": "task1", "t": "score", "outcome": "bpmn_error"}]


async def test_extend_lock_unlock_and_lock(kit: TestBroker) -> None:
    names = Names()
    task_id = await kit.publish("render", {})
    names(task_id, "task")
    [task] = await kit.store.fetch_and_lock("w", 1, [TopicRequest("render", 1000)])

    await kit.advance(0.5, sweep=False)
    await kit.store.extend_lock(task_id, "w", 5_000, lock_token=task.lock_token)
    extended = task_record(await kit.store.get(task_id), names)
    by_other = await refused(names, kit.store.extend_lock(task_id, "w2", 5_000))
    await kit.store.unlock(task_id, lock_token=task.lock_token)
    unlocked = task_record(await kit.store.get(task_id), names)
    [task] = await kit.store.fetch_and_lock("w", 1, [TopicRequest("render", 1000)])
    await kit.advance(2, sweep=False)
    expired = await refused(names, kit.store.extend_lock(task_id, "w", 5_000))
    token = await kit.store.lock(task_id, "w2", 3_000)
    relocked = task_record(await kit.store.get(task_id), names)
    await kit.store.set_priority(task_id, 7)

    render = {
        "id": "task1",
        "topic": "render",
        "priority": 0,
        "retries": None,
        "error": None,
        "details": None,
        "business_key": None,
        "tenant": None,
        "variables": {},
        "incident": None,
        "created": 0,
    }
    assert extended == {**render, "state": "l", "worker": "w", "until": 5_500, "token": 1}
    assert by_other[0] == WorkerMismatch.__name__
    assert unlocked == {**render, "state": "a", "worker": None, "until": None, "token": 1}
    assert task.lock_token == 2
    assert expired[0] == LockExpired.__name__
    assert token == 3
    assert relocked == {**render, "state": "l", "worker": "w2", "until": 5_500, "token": 3}
    assert (await kit.store.get(task_id)).priority == 7


async def test_sweep_brings_back_expired_locks_and_due_retries(kit: TestBroker) -> None:
    names = Names()
    for topic in ("a", "a", "b"):
        names(await kit.publish(topic, {}), "task")
        kit.clock.advance(1)
    locked = await kit.store.fetch_and_lock(
        "w", 10, [TopicRequest("a", 1000), TopicRequest("b", 1000)]
    )
    retried = locked[2]
    await kit.store.handle_failure(
        retried.id, "w", "later", None, 1, 3_000, lock_token=retried.lock_token
    )

    await kit.advance(2, sweep=False)
    before = [
        (s.topic_name, s.available, s.locked, s.retrying) for s in await kit.store.topic_stats()
    ]
    (await kit.topic("a")).has_tasks(2, state="available")  # expired: fetchable, not yet swept
    swept = await kit.sweep()
    after = [
        (s.topic_name, s.available, s.locked, s.retrying) for s in await kit.store.topic_stats()
    ]
    retry = await kit.advance(1)

    assert fetched(locked, names) == [
        ("task1", 1, 1003, {}),
        ("task2", 1, 1003, {}),
        ("task3", 1, 1003, {}),
    ]
    assert before == [("a", 0, 2, 0), ("b", 0, 0, 1)]
    assert swept == SweepResult(moved=2)
    assert after == [("a", 2, 0, 0), ("b", 0, 0, 1)]
    assert retry == SweepResult(moved=1)
    (await kit.topic("b")).has_tasks(1, state="available")


def test_the_names_helper_names_in_order() -> None:
    names = Names()
    assert [names("x", "task"), names("y", "task"), names("x", "task")] == [
        "task1",
        "task2",
        "task1",
    ]
    assert names.text("x and y") == "task1 and task2"
    assert re.fullmatch(r"incident1", names("z", "incident") or "")


async def test_each_backend_is_what_it_says(kit: TestBroker, backend: str) -> None:
    import fakeredis

    client = kit.store.redis
    assert isinstance(client, fakeredis.FakeAsyncRedis) == (backend == "fakeredis")
    if backend == "redis":
        info = await client.info("server")
        assert info["redis_version"].split(".")[:2] == ["6", "2"]
        assert info["process_id"] > 0
