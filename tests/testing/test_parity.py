"""The test kit's broker behaves the same on fakeredis as on a real redis-server: every transition
runs once on each (``backend``: a fresh in-memory server, or the session's redis-server of
tests/conftest.py in a namespace of its own) and the record it leaves, with random ids named in
order of appearance and times relative to the clock's start, equals one expected literal.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from redtask import BpmnError, Router
from redtask.broker.connection import client_for
from redtask.broker.errors import (
    DuplicateTask,
    LockExpired,
    StaleLock,
    TaskNotFound,
    WorkerMismatch,
)
from redtask.broker.model import ExternalTask, NewTask, TopicRequest
from redtask.testing import SweepResult, TestBroker, TestSettings

START = 1_700_000_000_000
MakeKit = Callable[..., TestBroker]


@pytest.fixture(params=["fakeredis", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_kit(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[MakeKit]:
    url = str(request.getfixturevalue("redis_url")) if backend == "redis" else None
    made: list[TestBroker] = []

    def make(**settings: Any) -> TestBroker:
        if url is None:
            kit = TestBroker.in_memory(start=START, **settings)
        else:
            settings = {"namespace": f"t{uuid.uuid4().hex[:12]}", **settings}
            kit = TestBroker(client_for(url), TestSettings(**settings), start=START)
        made.append(kit)
        return kit

    yield make
    for kit in made:
        if url is not None:
            client = kit.store.redis
            pattern = f"*{kit.settings.namespace}*"
            keys = [k async for k in client.scan_iter(match=pattern, count=1000)]
            if keys:
                await client.delete(*keys)
        await kit.aclose()


@pytest.fixture
def kit(make_kit: MakeKit) -> TestBroker:
    return make_kit()


class Names:
    """Random ids as ``task1``, ``instance1``, ... in the order they are first seen."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def __call__(self, value: str | None, kind: str = "id") -> str | None:
        if value is None:
            return None
        if value not in self.names:
            count = sum(1 for n in self.names.values() if n.startswith(kind))
            self.names[value] = f"{kind}{count + 1}"
        return self.names[value]

    def text(self, text: str) -> str:
        for value, name in self.names.items():
            text = text.replace(value, name)
        return text


def rel(ms: int | None) -> int | None:
    return None if ms is None else ms - START


def task_record(task: ExternalTask, names: Names) -> dict[str, Any]:
    return {
        "id": names(task.id, "task"),
        "topic": task.topic_name,
        "state": task.state.value,
        "priority": task.priority,
        "retries": task.retries,
        "worker": task.worker_id,
        "until": rel(task.lock_expiration_time),
        "token": task.lock_token,
        "error": task.error_message,
        "details": task.error_details,
        "business_key": task.business_key,
        "tenant": task.tenant_id,
        "variables": {k: (v["type"], v["value"]) for k, v in task.variables.items()},
        "incident": names(task.incident_id, "incident"),
        "created": rel(task.create_time),
    }


def fetched(tasks: list[ExternalTask], names: Names) -> list[tuple[Any, ...]]:
    return [
        (
            names(t.id, "task"),
            t.lock_token,
            rel(t.lock_expiration_time),
            {k: v["value"] for k, v in t.variables.items()},
        )
        for t in tasks
    ]


async def refused(names: Names, call: Any) -> tuple[str, str]:
    """The exception an awaitable raises: its type and message, ids named."""
    try:
        await call
    except Exception as exc:
        return type(exc).__name__, names.text(str(exc))
    raise AssertionError("expected a refusal")


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


PROCESS = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  id="defs" targetNamespace="https://example.org/test">
  <bpmn:error id="rejected_error" errorCode="REJECTED" />
  <bpmn:process id="claim" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check" />
    <bpmn:serviceTask id="check" camunda:type="external" camunda:topic="check" />
    <bpmn:boundaryEvent id="rejected" attachedToRef="check">
      <bpmn:errorEventDefinition errorRef="rejected_error" camunda:errorMessageVariable="reason" />
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="rejected" targetRef="rejected_end" />
    <bpmn:endEvent id="rejected_end" />
    <bpmn:boundaryEvent id="too_slow" attachedToRef="check">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT10M</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="too_slow" targetRef="timed_out" />
    <bpmn:endEvent id="timed_out" />
    <bpmn:sequenceFlow id="f4" sourceRef="check" targetRef="amount" />
    <bpmn:exclusiveGateway id="amount" default="small" />
    <bpmn:sequenceFlow id="big" sourceRef="amount" targetRef="approve">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">
        ${amount &gt; 100}
      </bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:serviceTask id="approve" camunda:type="external" camunda:topic="approve" />
    <bpmn:sequenceFlow id="f5" sourceRef="approve" targetRef="paid" />
    <bpmn:endEvent id="paid" />
    <bpmn:sequenceFlow id="small" sourceRef="amount" targetRef="cool_off" />
    <bpmn:intermediateCatchEvent id="cool_off">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f6" sourceRef="cool_off" targetRef="paid_later" />
    <bpmn:endEvent id="paid_later" />
  </bpmn:process>
</bpmn:definitions>
"""

claims = Router(retries=0)


@claims.task("check")
def check(amount: int) -> dict[str, object]:
    if amount < 0:
        raise BpmnError("REJECTED", f"negative amount {amount}")
    return {"checked": True}


@claims.task("approve")
async def approve(amount: int) -> dict[str, object]:
    return {"approved_amount": amount}


def instance_record(snapshot: Any) -> dict[str, Any]:
    return {
        "status": snapshot.status,
        "waiting_at": snapshot.waiting_at,
        "path": snapshot.path,
        "variables": snapshot.variables,
    }


@pytest.mark.parametrize("partitions", [1, 4])
async def test_a_process_with_a_gateway_a_boundary_error_and_timers(
    make_kit: MakeKit, partitions: int
) -> None:
    kit = make_kit(partitions=partitions)
    [definition] = await kit.deploy(PROCESS)
    started = {}
    for key, amount in (("big", 500), ("small", 5), ("negative", -1)):
        started[key] = await kit.start("claim", {"amount": amount}, business_key=key)
        kit.clock.advance(1)
    runner = kit.worker(claims)

    handled = [(h.topic, h.outcome, h.error_code) for h in await runner.run_until_idle()]
    first = {k: instance_record(await kit.instance(pi)) for k, pi in started.items()}
    started["slow"] = await kit.start("claim", {"amount": 7}, business_key="slow")
    timed_out = await kit.advance(minutes=10)
    slow = instance_record(await kit.instance(started["slow"]))
    cooled = await kit.advance(hours=1)
    small = instance_record(await kit.instance(started["small"]))

    assert definition.key == "claim"
    expected = [
        ("check", "completed", None),
        ("check", "completed", None),
        ("check", "bpmn_error", "REJECTED"),
        ("approve", "completed", None),
    ]
    # fetches visit the partitions from a rotating start: the order is creation order only
    # with one partition
    assert sorted(handled, key=str) == sorted(expected, key=str)
    if partitions == 1:
        assert handled == expected
    assert first == {
        "big": {
            "status": "completed",
            "waiting_at": [],
            "path": ["start", "check", "amount", "approve", "paid"],
            "variables": {"amount": 500, "checked": True, "approved_amount": 500},
        },
        "small": {
            "status": "active",
            "waiting_at": ["cool_off"],
            "path": ["start", "check", "amount", "cool_off"],
            "variables": {"amount": 5, "checked": True},
        },
        "negative": {
            "status": "completed",
            "waiting_at": [],
            "path": ["start", "check", "rejected", "rejected_end"],
            "variables": {"amount": -1, "reason": "negative amount -1"},
        },
    }
    assert timed_out == SweepResult(fired=1)
    assert slow == {
        "status": "completed",
        "waiting_at": [],
        "path": ["start", "check", "too_slow", "timed_out"],
        "variables": {"amount": 7},
    }
    assert cooled == SweepResult(fired=1)
    assert small["status"] == "completed"
    assert small["path"] == ["start", "check", "amount", "cool_off", "paid_later"]
    assert await kit.tasks() == []


MESSAGES = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="defs" targetNamespace="https://example.org/test">
  <bpmn:message id="paid_message" name="paid" />
  <bpmn:process id="invoice" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork" />
    <bpmn:parallelGateway id="fork" />
    <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="wait_paid" />
    <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="remind" />
    <bpmn:receiveTask id="wait_paid" messageRef="paid_message" />
    <bpmn:serviceTask id="remind" camunda:type="external" camunda:topic="remind" />
    <bpmn:sequenceFlow id="f4" sourceRef="wait_paid" targetRef="join" />
    <bpmn:sequenceFlow id="f5" sourceRef="remind" targetRef="join" />
    <bpmn:parallelGateway id="join" />
    <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


async def test_messages_a_parallel_join_and_cancel(kit: TestBroker) -> None:
    names = Names()
    await kit.deploy(MESSAGES)
    paid = await kit.start("invoice", business_key="k1")
    names(paid.id, "instance")
    cancelled = await kit.start("invoice", business_key="k2")
    names(cancelled.id, "instance")

    delivered = await kit.correlate("paid", {"amount": 5}, business_key="k1")
    after_message = instance_record(await kit.instance(paid))
    nobody = await refused(names, kit.correlate("paid", business_key="k3"))
    [remind] = await kit.store.fetch_and_lock(
        "w", 1, [TopicRequest("remind", 1000, business_key="k1")]
    )
    await kit.store.complete(remind.id, "w", {}, lock_token=remind.lock_token)
    ended = instance_record(await kit.instance(paid))
    await kit.cancel(cancelled)
    terminated = instance_record(await kit.instance(cancelled))

    assert delivered == 1
    assert after_message == {
        "status": "active",
        "waiting_at": ["join", "remind"],
        "path": ["start", "fork", "wait_paid", "remind", "join"],
        "variables": {"amount": 5},
    }
    assert nobody == (
        "MessageNotCorrelated",
        "Cannot correlate message 'paid': No process definition or execution matches the "
        "parameters",
    )
    assert ended["status"] == "completed"
    assert ended["path"] == ["start", "fork", "wait_paid", "remind", "join", "join", "end"]
    assert terminated == {
        "status": "terminated",
        "waiting_at": [],
        "path": ["start", "fork", "wait_paid", "remind"],
        "variables": {},
    }
    assert await kit.tasks() == []


async def test_history_retention_follows_the_test_clock(make_kit: MakeKit) -> None:
    kit = make_kit(history_ttl_s=60)
    await kit.deploy(PROCESS)
    claim = await kit.start("claim", {"amount": -3})
    await kit.worker(claims).run_until_idle()
    (await kit.instance(claim)).is_completed()

    kept = await kit.advance(59)
    still = await kit.historic_instance(claim)
    forgotten = await kit.advance(1)

    assert kept.forgotten == 0
    assert still is not None and (still.state, rel(still.end)) == ("COMPLETED", 0)
    assert forgotten.forgotten == 1
    assert await kit.historic_instance(claim) is None
    (await kit.instance(claim)).does_not_exist()


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


async def test_delete_namespace_removes_the_brokers_keys_only(make_kit: MakeKit) -> None:
    kit, other = make_kit(), make_kit(namespace="t-other-" + uuid.uuid4().hex[:8])
    await kit.deploy(PROCESS)
    await kit.start("claim", {"amount": 1})
    await kit.publish("loose", {})
    await other.publish("kept", {})

    deleted = await kit.delete_namespace()

    client = kit.store.redis
    left = [k for p in kit.store.keys.namespace_patterns() async for k in client.scan_iter(p)]
    assert left == []
    # the instance with its activity and task-log history, two tasks, the deployment, the
    # definition, their indexes
    assert deleted == 18
    assert [t.topic_name for t in await other.tasks()] == ["kept"]
