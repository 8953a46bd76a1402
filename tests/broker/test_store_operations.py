"""Store operations that routes call in one step: the tasks a many-task retries change
selects, and a process start that a deployment deleted at the same time cannot outlive."""

from __future__ import annotations

from typing import Any

import pytest

from redtask.broker.definition_model import DefinitionNotFound, DeploymentRequest, Resource
from redtask.broker.instances import InstanceNotFound
from redtask.broker.model import NewTask
from redtask.broker.query import TaskQuery
from redtask.broker.store import Store
from tests.gateway.helpers import one_task_process


async def _deploy(store: Store, key: str, topic: str) -> Any:
    definitions = store.definitions
    request = DeploymentRequest([Resource(f"{key}.bpmn", one_task_process(key, topic, 0))])
    result = await definitions.deploy(request)
    assert result.definitions is not None
    return result.deployment, result.definitions[0]


async def test_selected_tasks_are_the_given_ids_then_instance_tasks_then_query_matches_once(
    store: Store,
) -> None:
    _, definition = await _deploy(store, "selected", "by-instance")
    state = await store.start_process_instance(definition)
    [by_instance] = await store.query(TaskQuery(process_instance_id=state.instance_id))
    given = await store.publish(NewTask("given"))
    matched = await store.publish(NewTask("matched"))
    selected = await store.select_task_ids(
        [given, by_instance.id, given],
        [state.instance_id],
        TaskQuery(topic_name="matched"),
    )
    assert selected == [given, by_instance.id, matched]


async def test_nothing_selected_without_ids_instances_or_query(store: Store) -> None:
    await store.publish(NewTask("t"))
    assert await store.select_task_ids() == []


async def test_a_started_instance_answers_its_state_after_the_first_steps(store: Store) -> None:
    _, definition = await _deploy(store, "started", "work")
    state = await store.start_process_instance(
        definition, {"n": {"type": "Integer", "value": 1}}, "bk-1"
    )
    assert (state.business_key, state.status) == ("bk-1", "active")
    assert (await store.get_instance(state.instance_id)).definition_id == definition.id


async def test_a_start_racing_a_deployment_delete_leaves_no_instance(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment, definition = await _deploy(store, "raced", "raced")
    started: list[str] = []
    start_instance = store.runtime.start_instance

    async def start_after_the_delete(*args: Any, **kwargs: Any) -> Any:
        # the delete walked the definition's instances before this one was committed
        await store.definitions.delete_deployment(deployment.id)
        state, effects = await start_instance(*args, **kwargs)
        started.append(state.instance_id)
        return state, effects

    monkeypatch.setattr(store.runtime, "start_instance", start_after_the_delete)
    with pytest.raises(DefinitionNotFound):
        await store.start_process_instance(definition)
    with pytest.raises(InstanceNotFound):
        await store.get_instance(started[0])
    assert await store.query(TaskQuery(topic_name="raced")) == []
