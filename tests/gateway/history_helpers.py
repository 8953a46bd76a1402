"""The process the history tests run, deployed over REST so activity names resolve: a task, a
gateway, a sub-process holding a second task, an interrupting timer on the sub-process that
leads to a terminate end event."""

from __future__ import annotations

from typing import Any

import httpx

from redtask.broker.model import TopicRequest
from redtask.broker.store import Store
from tests.gateway.helpers import API

SHIPPING = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
             targetNamespace="http://example.com/history">
  <process id="shipping" name="Shipping" isExecutable="true">
    <startEvent id="start" name="Order in" />
    <sequenceFlow id="f1" sourceRef="start" targetRef="charge" />
    <serviceTask id="charge" name="Charge" camunda:type="external" camunda:topic="charge"
                 camunda:taskPriority="7" />
    <sequenceFlow id="f2" sourceRef="charge" targetRef="route" />
    <exclusiveGateway id="route" name="Route" />
    <sequenceFlow id="f3" sourceRef="route" targetRef="ship" />
    <subProcess id="ship" name="Ship">
      <startEvent id="ship_start" />
      <sequenceFlow id="s1" sourceRef="ship_start" targetRef="pack" />
      <serviceTask id="pack" name="Pack" camunda:type="external" camunda:topic="pack" />
      <sequenceFlow id="s2" sourceRef="pack" targetRef="ship_end" />
      <endEvent id="ship_end" />
    </subProcess>
    <boundaryEvent id="too_slow" name="Too slow" attachedToRef="ship">
      <timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition>
    </boundaryEvent>
    <sequenceFlow id="f4" sourceRef="ship" targetRef="done" />
    <endEvent id="done" name="Done" />
    <sequenceFlow id="f5" sourceRef="too_slow" targetRef="given_up" />
    <endEvent id="given_up" name="Given up"><terminateEventDefinition /></endEvent>
  </process>
</definitions>
"""


async def deploy_shipping(client: httpx.AsyncClient) -> str:
    response = await client.post(
        f"{API}/deployment/create",
        data={"deployment-name": "shipping"},
        files={"data": ("shipping.bpmn", SHIPPING, "application/xml")},
    )
    assert response.status_code == 200, response.text
    [definition_id] = response.json()["deployedProcessDefinitions"]
    return str(definition_id)


async def start_shipping(client: httpx.AsyncClient, business_key: str | None = None) -> str:
    body: dict[str, Any] = {"businessKey": business_key} if business_key else {}
    response = await client.post(f"{API}/process-definition/key/shipping/start", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def task_of(store: Store, topic: str, instance_id: str, worker: str = "w") -> str:
    """Lock the instance's task of ``topic`` for ``worker``; its id."""
    locked = await store.fetch_and_lock(worker, 50, [TopicRequest(topic, 600_000)])
    [task] = [t for t in locked if t.process_instance_id == instance_id]
    for other in locked:
        if other.id != task.id:
            await store.unlock(other.id)
    return task.id


async def complete(client: httpx.AsyncClient, task_id: str, worker: str = "w") -> None:
    response = await client.post(
        f"{API}/external-task/{task_id}/complete", json={"workerId": worker}
    )
    assert response.status_code == 204, response.text
