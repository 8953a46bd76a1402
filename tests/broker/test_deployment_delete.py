"""Deleting a deployment whose definitions have process instances, on a real Redis: refused
without cascade, the instances deleted with it, and an instance racing with the delete is not
left orphaned."""

from __future__ import annotations

from pathlib import Path

import pytest

from redtask.broker.definition_model import DeploymentNotFound, DeploymentRequest, Resource
from redtask.broker.definitions import Definitions, DeploymentHasInstances
from redtask.broker.instance_reads import running_instances_of
from redtask.broker.instances import InstanceNotFound
from redtask.broker.model import TopicRequest
from redtask.broker.store import Store

FILES = Path(__file__).parent / "bpmn" / "files"
SIMPLE = (FILES / "simple.bpmn").read_bytes()
CHARGE = [TopicRequest("charge-card", 10_000)]


@pytest.fixture
def defs(store: Store) -> Definitions:
    definitions = store.definitions
    store.models = definitions.get_model
    return definitions


async def deploy(defs: Definitions) -> tuple[str, str]:
    result = await defs.deploy(DeploymentRequest(resources=[Resource("simple.bpmn", SIMPLE)]))
    [definition] = result.definitions or ()
    return result.deployment.id, definition.id


async def start(defs: Definitions, store: Store, definition_id: str) -> str:
    state, _ = await store.start_instance(await defs.get_model(definition_id), definition_id)
    return state.instance_id


async def test_without_cascade_a_running_instance_refuses_the_delete(
    defs: Definitions, store: Store
) -> None:
    deployment_id, definition_id = await deploy(defs)
    await start(defs, store, definition_id)
    await start(defs, store, definition_id)
    with pytest.raises(DeploymentHasInstances) as refused:
        await defs.delete_deployment(deployment_id)
    assert str(refused.value) == (
        "ENGINE-03076 Deletion of process definition without cascading failed. Process "
        f"definition with id: {definition_id} can't be deleted, since there exists 2 "
        "dependening process instances."
    )
    assert (await defs.deployment(deployment_id)).id == deployment_id
    [task, _] = await store.fetch_and_lock("w", 2, CHARGE)
    await store.complete(task.id, "w")  # the instance still has its model


async def test_ended_instances_do_not_refuse_the_delete(defs: Definitions, store: Store) -> None:
    deployment_id, definition_id = await deploy(defs)
    instance_id = await start(defs, store, definition_id)
    [task] = await store.fetch_and_lock("w", 1, CHARGE)
    await store.complete(task.id, "w")
    await defs.delete_deployment(deployment_id)
    with pytest.raises(DeploymentNotFound):
        await defs.deployment(deployment_id)
    historic = await store.get_historic_instance(instance_id)
    assert historic is not None and historic.state == "COMPLETED"


async def test_cascade_deletes_the_running_instances_and_their_tasks(
    defs: Definitions, store: Store
) -> None:
    deployment_id, definition_id = await deploy(defs)
    first = await start(defs, store, definition_id)
    second = await start(defs, store, definition_id)
    [task, _] = await store.fetch_and_lock("w", 2, CHARGE)
    await store.handle_failure(task.id, "w", "declined", None, 0, 0)
    assert len(await store.incidents()) == 1
    await defs.delete_deployment(deployment_id, cascade=True)
    with pytest.raises(DeploymentNotFound):
        await defs.deployment(deployment_id)
    for instance_id in (first, second):
        with pytest.raises(InstanceNotFound):
            await store.get_instance(instance_id)
    assert await store.incidents() == []
    assert await store.fetch_and_lock("w", 10, CHARGE) == []
    for instance_id in (first, second):  # kept for history, as DELETE /process-instance does
        historic = await store.get_historic_instance(instance_id)
        assert historic is not None and historic.state == "EXTERNALLY_TERMINATED"


async def test_an_instance_started_while_the_delete_runs_is_deleted_too(
    defs: Definitions, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start that read the definition before the delete and commits after its check."""
    deployment_id, definition_id = await deploy(defs)
    model = await defs.get_model(definition_id)
    delete_records = defs._delete_records
    racing: list[str] = []

    async def start_then_delete(deployment: str) -> None:
        state, _ = await store.start_instance(model, definition_id)
        racing.append(state.instance_id)
        await delete_records(deployment)

    monkeypatch.setattr(defs, "_delete_records", start_then_delete)
    await defs.delete_deployment(deployment_id)
    with pytest.raises(InstanceNotFound):
        await store.get_instance(racing[0])
    assert await store.fetch_and_lock("w", 10, CHARGE) == []


async def test_instances_are_walked_in_batches(defs: Definitions, store: Store) -> None:
    _, definition_id = await deploy(defs)
    started = {await start(defs, store, definition_id) for _ in range(5)}
    batches = [
        batch
        async for batch in running_instances_of(store.db, store.keys, {definition_id}, batch=2)
    ]
    assert all(len(b) <= 2 for b in batches)
    assert {i for b in batches for i, _ in b} == started
