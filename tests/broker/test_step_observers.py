"""The instance repository's step observers see every committed step, and only those."""

from __future__ import annotations

from redtask.broker.definition_model import DeploymentRequest, Resource
from redtask.broker.engine import Effects, InstanceState
from redtask.broker.errors import E_CONFLICT
from redtask.broker.model import TopicRequest
from redtask.broker.store import Store

PROCESS = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="defs" targetNamespace="https://example.org/test">
  <bpmn:process id="observed" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:serviceTask id="work" camunda:type="external" camunda:topic="observed-work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


async def test_observers_see_committed_steps_and_not_conflicting_ones(store: Store) -> None:
    seen: list[tuple[str, str, tuple[str, ...]]] = []

    def observe(state: InstanceState, effects: Effects) -> None:
        seen.append((state.instance_id, state.status, effects.path))

    store.repository.observers.append(observe)
    result = await store.definitions.deploy(DeploymentRequest([Resource("p.bpmn", PROCESS)]))
    [definition] = result.definitions or ()
    started = await store.start_process_instance(definition)
    state, version = await store.instance_state(started.instance_id)

    conflict = await store.repository.commit(state, Effects(path=("x",)), version + 1)
    [task] = await store.tasks.fetch_and_lock("w", 1, [TopicRequest("observed-work", 1000)])
    await store.complete(task.id, "w", {}, lock_token=task.lock_token)

    iid = started.instance_id
    assert int(conflict[0]) == E_CONFLICT
    assert seen == [
        (iid, "active", ("start", "work")),
        (iid, "completed", ("end",)),
    ]
