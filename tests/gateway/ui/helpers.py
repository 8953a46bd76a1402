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
