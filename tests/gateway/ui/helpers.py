"""A broker in a known state for the dashboard's tests: tasks in every state with hostile text
in them, a deployed order process with running instances, a worker that fetched."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from redtask.broker.definition_model import DeploymentRequest, ProcessDefinition, Resource
from redtask.broker.model import NewTask, TopicRequest
from redtask.broker.store import Store

ROOT = Path(__file__).resolve().parents[3]
ORDER_BPMN = (ROOT / "examples" / "order.bpmn").read_bytes()
UI = "/redtask/ui"
HOSTILE = "<script>alert('x')</script>"
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
ORDER_SHAPES = {
    "order_received": "startEvent",
    "reserve_stock": "serviceTask",
    "express_choice": "exclusiveGateway",
    "ship_express": "serviceTask",
    "ship_standard": "serviceTask",
    "order_shipped": "endEvent",
    "out_of_stock": "boundaryEvent",
    "order_rejected": "endEvent",
}


@dataclass(frozen=True)
class Scene:
    """``available``, ``locked`` (by "w-1") and ``failed`` (an incident) are tasks of topic
    "mail"; ``orders`` the two instances of ``definition`` (each waits at reserve_stock)."""

    available: str
    locked: str
    failed: str
    definition: ProcessDefinition
    orders: tuple[str, str]


async def build(store: Store) -> Scene:
    failed, available = await store.publish_many(
        [
            NewTask("mail", {"body": {"type": "String", "value": HOSTILE}}, business_key="B-1"),
            NewTask(
                "mail",
                {
                    "body": {"type": "String", "value": "plain"},
                    "count": {"type": "Integer", "value": 7},
                },
                business_key=HOSTILE,
            ),
        ]
    )
    await store.lock(failed, "w-0", 10_000)
    await store.handle_failure(failed, "w-0", f"failed: {HOSTILE}", f"trace {HOSTILE}", 0, 0)
    [locked] = await store.publish_many([NewTask("mail", business_key="B-3")])
    await store.lock(locked, "w-1", 60_000)
    assert await store.fetch_and_lock("w-1", 1, [TopicRequest("idle", 60_000)]) == []
    result = await store.definitions.deploy(
        DeploymentRequest([Resource("order.bpmn", ORDER_BPMN)], name="orders")
    )
    assert result.definitions is not None
    [definition] = result.definitions
    orders = []
    for key in ("A-1", HOSTILE):
        variables = {
            "item": {"type": "String", "value": HOSTILE},
            "quantity": {"type": "Integer", "value": 2},
        }
        state = await store.start_process_instance(definition, variables, key)
        orders.append(state.instance_id)
    return Scene(available, locked, failed, definition, (orders[0], orders[1]))


HOSTILE_ATTR = "&lt;script&gt;alert('x')&lt;/script&gt;"  # HOSTILE inside an XML attribute
HOSTILE_BPMN = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
    xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="hostile" name="{HOSTILE_ATTR}" isExecutable="true">
    <bpmn:startEvent id="start" name="{HOSTILE_ATTR}" />
    <bpmn:sequenceFlow id="f1" name="{HOSTILE_ATTR}" sourceRef="start" targetRef="work" />
    <bpmn:serviceTask id="work" name="{HOSTILE_ATTR}" camunda:type="external"
                      camunda:topic="hostile" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="dia">
    <bpmndi:BPMNPlane id="plane" bpmnElement="hostile">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="100" y="100" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="work_di" bpmnElement="work">
        <dc:Bounds x="200" y="78" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_di" bpmnElement="end">
        <dc:Bounds x="360" y="100" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="f1_di" bpmnElement="f1">
        <di:waypoint x="136" y="118" /><di:waypoint x="200" y="118" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f2_di" bpmnElement="f2">
        <di:waypoint x="300" y="118" /><di:waypoint x="360" y="118" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>""".encode()
