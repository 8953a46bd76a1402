"""The test kit's broker runs processes the same on fakeredis as on a real redis-server (see
tests/testing/test_parity_tasks.py): a gateway, a boundary error and timers, messages, a
parallel join and a cancel, history retention, and deleting a broker's namespace."""

from __future__ import annotations

import uuid

import pytest

from redtask import BpmnError, Router
from redtask.broker.model import TopicRequest
from redtask.testing import SweepResult, TestBroker
from tests.testing.parity_helpers import MakeKit, Names, instance_record, refused, rel

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
