"""The test kit's assertions: on process instances, topics, tasks and incidents, the verdicts
they give and the messages they fail with."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from redtask.testing import TestBroker
from tests.testing.kit_helpers import ORDER, TWO_PROCESSES, MakeWorker, StartProcess, handlers


async def test_instance_assertions_pass_and_fail_with_what_happened(
    redtask_broker: TestBroker, redtask_process: StartProcess
) -> None:
    order = await redtask_process(ORDER, {"item": "book", "quantity": 2}, business_key="A-1")
    snapshot = await redtask_broker.instance(order)
    task = (await redtask_broker.tasks(instance=order))[0]

    snapshot.is_active().is_waiting_at("reserve_stock").is_waiting_only_at("reserve_stock")
    snapshot.has_passed("order_received").has_not_passed("ship_express").has_no_incidents()
    snapshot.has_variables("item", quantity=2).has_no_variables("total")
    assert snapshot.variables == {"item": "book", "quantity": 2}
    assert snapshot.path == ["order_received", "reserve_stock"]

    with pytest.raises(AssertionError) as failed:
        snapshot.is_waiting_at("ship_express")
    assert str(failed.value) == (
        f"Expecting process instance {order.id} to be waiting at ['ship_express'], but it is "
        "waiting at ['reserve_stock'].\n"
        f"process instance {order.id} ({order.definition_id}, business key 'A-1')\n"
        "  state:      active\n"
        f"  waiting at: reserve_stock (task {task.id})\n"
        "  path:       order_received -> reserve_stock\n"
        "  variables:  item='book', quantity=2\n"
        f"  task {task.id} on topic 'reserve-stock', at 'reserve_stock', available"
    )
    checks: list[tuple[Callable[[], object], str]] = [
        (lambda: snapshot.is_ended(), r"to be ended, but it is waiting at \['reserve_stock'\]"),
        (lambda: snapshot.ended_at("order_shipped"), "but it is still waiting at"),
        (lambda: snapshot.has_passed("reserve_stock"), r"has not passed \['reserve_stock'\]"),
        (lambda: snapshot.has_not_passed("reserve_stock"), r"it entered \['reserve_stock'\]"),
        (lambda: snapshot.has_variables(quantity=3), "'quantity' is 2"),
        (lambda: snapshot.has_variables(quantity=2.0, total=1), "'total' is missing"),
        (lambda: snapshot.has_variables(item=True), "'item' is 'book'"),
        (lambda: snapshot.has_no_variables(), "it has item, quantity"),
        (lambda: snapshot.has_business_key("B"), "to have business key 'B', but it has 'A-1'"),
        (lambda: snapshot.has_incident(), "to have an incident, but its incidents are none"),
        (lambda: snapshot.is_not_waiting_at("reserve_stock"), "but it is waiting at"),
        (lambda: snapshot.is_completed(), "to be completed, but it is active"),
        (lambda: snapshot.does_not_exist(), "not to be stored, but it is active"),
        (lambda: snapshot.is_waiting_only_at(), r"exactly \[\], but it is waiting at"),
    ]
    for check, message in checks:
        with pytest.raises(AssertionError, match=message):
            check()
    with pytest.raises(AssertionError, match="'quantity' is 2"):
        snapshot.has_variables(quantity=2.5)
    snapshot.has_variables(quantity=2.0)  # numbers compare across int and float


async def test_topic_task_and_incident_assertions(
    redtask_broker: TestBroker, redtask_worker: MakeWorker
) -> None:
    await redtask_broker.publish("give-up")
    locked_id = await redtask_broker.publish("needs-x", {"x": 1})
    await redtask_worker(handlers).step("give-up")
    await redtask_broker.store.fetch_and_lock("w", 1, [_request("needs-x", 10_000)])

    topic = await redtask_broker.topic("give-up")
    topic.has_tasks(1).has_tasks(1, state="incident").has_tasks(0, state="available")
    with pytest.raises(AssertionError) as failed:
        topic.has_tasks(2, state="incident")
    assert str(failed.value).startswith(
        "Expecting topic 'give-up' to hold 2 incident tasks, but it holds 1.\n"
        "topic 'give-up': 1 incident\n  task "
    )
    assert "retries 0, last error 'no way'" in str(failed.value)
    with pytest.raises(ValueError, match="state must be one of"):
        topic.has_tasks(1, state="done")  # type: ignore[arg-type]

    task = await redtask_broker.task(topic="give-up")
    task.has_incident("no way").has_incident(re.compile("^no")).has_failed(retries_left=0)
    task.has_error_details("details").has_retries(0)
    with pytest.raises(AssertionError, match="with 1 retries left, but it has 0 retries left"):
        task.has_failed(retries_left=1)
    with pytest.raises(AssertionError, match="to be locked, but it is incident"):
        task.is_locked()

    locked = await redtask_broker.task(locked_id)
    locked.is_locked(by="w").has_variables(x=1)
    with pytest.raises(AssertionError, match="to have failed, but no failure was reported"):
        locked.has_failed()
    with pytest.raises(
        AssertionError, match=r"to have an incident, but it has none \(it is locked"
    ):
        locked.has_incident()
    await redtask_broker.advance(10)
    (await redtask_broker.task(locked_id)).is_available()

    with pytest.raises(AssertionError, match=r"Expecting exactly one task: a task with topic=none"):
        await redtask_broker.task(topic="none")
    incidents = await redtask_broker.incidents()
    incidents.has_count(1).has_incident("no way", topic="give-up")
    with pytest.raises(AssertionError, match=r"Expecting an incident with message 'yes way'"):
        incidents.has_incident("yes way")


async def test_an_ended_instance_and_one_never_started(redtask_broker: TestBroker) -> None:
    forgotten = await redtask_broker.instance("no-such-instance")
    forgotten.does_not_exist()
    assert forgotten.status == "forgotten"
    with pytest.raises(AssertionError, match=r"to be waiting at .*, but it is not stored"):
        forgotten.is_waiting_at("x")

    await redtask_broker.deploy(TWO_PROCESSES)
    ended = await redtask_broker.start("one")
    snapshot = await redtask_broker.instance(ended)
    snapshot.is_ended().is_completed().ended_at("s1").has_passed("s1")
    assert snapshot.waiting_at == []
    with pytest.raises(AssertionError, match=r"without reaching \['e9'\]"):
        snapshot.ended_at("e9")
    with pytest.raises(AssertionError, match=r"to be waiting at .*, but it is completed"):
        snapshot.is_waiting_at("s1")


def _request(topic: str, lock: int) -> object:
    from redtask.broker.model import TopicRequest

    return TopicRequest(topic, lock)
