"""Store.handle_failure on process tasks whose activity has camunda:errorEventDefinition
expressions (HandleExternalTaskFailureCmd): only those tasks leave the one-script path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from redtask.broker.bpmn import ProcessModel, parse_bpmn
from redtask.broker.errors import WorkerMismatch
from redtask.broker.model import NewTask, TaskState, TopicRequest, TopicStats
from redtask.broker.store import Store
from tests.broker.test_instances import model, serve_models

FIXTURE = Path(__file__).parents[1] / "gateway" / "bpmn" / "failure_error_events.bpmn"


def failing_model() -> ProcessModel:
    [parsed] = parse_bpmn(FIXTURE.read_bytes(), "failing.bpmn")
    return parsed


def count_script_calls(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the scripts the store runs from now on; reading a task fails the test."""
    calls: list[str] = []
    real = store.db.call

    async def counting(name: str, prefix: str, *args: Any) -> list[Any]:
        calls.append(name)
        return await real(name, prefix, *args)

    async def no_reads(task_id: str) -> Any:
        raise AssertionError(f"task {task_id} was read")

    monkeypatch.setattr(store.db, "call", counting)
    monkeypatch.setattr(store.task_reads, "get", no_reads)
    return calls


async def test_a_matching_definition_throws_the_error_and_logs_it(store: Store) -> None:
    failing = failing_model()
    serve_models(store, failing)
    state, _ = await store.start_instance(failing, "failing:1:test")
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("charge", 10_000)])
    result = await store.handle_failure(
        task.id,
        "w",
        "declined",
        "card declined",
        0,
        0,
        variables={"n": {"type": "Integer", "value": 1}},
    )
    assert result is None
    after, version = await store.instance_state(state.instance_id)
    assert version == 2
    assert [e.element_id for e in after.executions if e.wait is not None] == ["notify_declined"]
    assert after.variables["n"] == {"type": "Integer", "value": 1, "valueInfo": {}}
    assert await store.incidents() == []
    assert await store.topic_stats() == [TopicStats("notify", 1, 0, 0, 0)]
    [entry] = await store.finished()
    assert (entry["id"], entry["outcome"], entry["code"], entry["msg"]) == (
        task.id,
        "bpmn_error",
        "CARD_DECLINED",
        "declined",
    )


async def test_no_matching_definition_does_the_usual_bookkeeping(store: Store) -> None:
    failing = failing_model()
    serve_models(store, failing)
    state, _ = await store.start_instance(failing, "failing:1:test")
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("charge", 10_000)])
    assert await store.handle_failure(task.id, "w", "boom", "stack", 0, 0) is TaskState.INCIDENT
    stored = await store.get(task.id)
    assert (stored.state, stored.retries, stored.error_message, stored.error_details) == (
        TaskState.INCIDENT,
        0,
        "boom",
        "stack",
    )
    assert (await store.instance_state(state.instance_id))[1] == 1
    [incident] = await store.incidents()
    assert incident.configuration == task.id


async def test_another_workers_failure_is_refused_before_any_evaluation(store: Store) -> None:
    failing = failing_model()
    serve_models(store, failing)
    await store.start_instance(failing, "failing:1:test")
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("charge", 10_000)])
    with pytest.raises(WorkerMismatch):
        await store.handle_failure(task.id, "intruder", "x", "card declined", 0, 0)
    assert (await store.get(task.id)).state is TaskState.LOCKED


async def test_a_process_task_without_error_definitions_fails_in_one_script_call(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = model("simple")
    serve_models(store, order)
    await store.start_instance(order, "order:1:test")
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("charge-card", 10_000)])
    calls = count_script_calls(store, monkeypatch)
    assert await store.handle_failure(task.id, "w", "boom", None, 1, 500) is TaskState.RETRY
    assert calls == ["handle_failure"]


async def test_a_standalone_task_fails_in_one_script_call(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = await store.publish(NewTask("t"))
    await store.fetch_and_lock("w", 1, [TopicRequest("t", 10_000)])
    calls = count_script_calls(store, monkeypatch)
    assert await store.handle_failure(task_id, "w", "boom", None, 0, 0) is TaskState.INCIDENT
    assert calls == ["handle_failure"]
