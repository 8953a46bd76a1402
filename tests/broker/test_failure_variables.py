"""Store.handle_failure with variables on process tasks (HandleExternalTaskFailureCmd): they are
written to the task's execution in the instance state, in the same script call as the retry or
incident bookkeeping; standalone tasks and failures without variables keep their one script call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from redtask.broker.bpmn import parse_bpmn
from redtask.broker.engine import InstanceState
from redtask.broker.errors import WorkerMismatch
from redtask.broker.model import NewTask, TaskState, TopicRequest
from redtask.broker.store import Store
from tests.broker.test_failure_error_events import failing_model
from tests.broker.test_instances import model, serve_models
from tests.conftest import FakeClock

SCOPED = Path(__file__).parent / "engine" / "files" / "scoped_variables.bpmn"
ATTEMPT = {"attempt": {"type": "Integer", "value": 1}}
NOTE = {"note": {"type": "String", "value": "local"}}


def stored(value: Any, kind: str) -> dict[str, Any]:
    return {"type": kind, "value": value, "valueInfo": {}}


def count_script_calls(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the scripts the store runs from now on."""
    calls: list[str] = []
    real = store.db.call

    async def counting(name: str, prefix: str, *args: Any) -> list[Any]:
        calls.append(name)
        return await real(name, prefix, *args)

    monkeypatch.setattr(store.db, "call", counting)
    return calls


async def locked_order_task(store: Store) -> tuple[str, str]:
    """(instance id, task id) of a started "order" instance whose task worker "w" locked."""
    order = model("simple")
    serve_models(store, order)
    state, _ = await store.start_instance(order, "order:1:test", {"amount": stored(42, "Integer")})
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("charge-card", 10_000)])
    return state.instance_id, task.id


def locals_of(state: InstanceState, execution_id: str | None) -> dict[str, Any]:
    return dict(state.execution(execution_id or "").variables)


async def test_a_process_tasks_failure_variables_are_written_to_its_instance(
    store: Store, clock: FakeClock
) -> None:
    instance_id, task_id = await locked_order_task(store)

    state = await store.handle_failure(
        task_id, "w", "boom", None, 2, 500, variables=ATTEMPT, local_variables=NOTE
    )

    assert state is TaskState.RETRY
    after, version = await store.instance_state(instance_id)
    task = await store.get(task_id)
    assert version == 2
    assert after.variables == {"amount": stored(42, "Integer"), "attempt": stored(1, "Integer")}
    assert locals_of(after, task.execution_id) == {"note": stored("local", "String")}
    assert (task.state, task.retries, task.error_message, task.variables) == (
        TaskState.RETRY,
        2,
        "boom",
        {},  # nothing on the task record: a process task shows its execution's variables
    )
    clock.advance(500)
    [again] = await store.fetch_and_lock("w2", 1, [TopicRequest("charge-card", 10_000)])
    assert again.variables == {
        "amount": stored(42, "Integer"),
        "attempt": stored(1, "Integer"),
        "note": stored("local", "String"),
    }


async def test_the_variables_are_set_when_the_failure_opens_an_incident(store: Store) -> None:
    instance_id, task_id = await locked_order_task(store)

    state = await store.handle_failure(task_id, "w", "gave up", "trace", 0, 0, variables=ATTEMPT)

    assert state is TaskState.INCIDENT
    after, version = await store.instance_state(instance_id)
    assert (version, after.variables["attempt"]) == (2, stored(1, "Integer"))
    [incident] = await store.incidents()
    assert (incident.configuration, incident.incident_message) == (task_id, "gave up")
    assert (await store.get(task_id)).state is TaskState.INCIDENT


async def test_a_process_tasks_failure_with_variables_takes_two_script_calls(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first call only refuses the task (writes nothing); the second writes it all."""
    _, task_id = await locked_order_task(store)
    calls = count_script_calls(store, monkeypatch)

    await store.handle_failure(task_id, "w", "boom", None, 1, 0, local_variables=NOTE)

    assert calls == ["handle_failure", "handle_failure"]


async def test_a_standalone_tasks_failure_variables_stay_on_the_task_in_one_script_call(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = await store.publish(NewTask("t"))
    await store.fetch_and_lock("w", 1, [TopicRequest("t", 10_000)])
    calls = count_script_calls(store, monkeypatch)

    await store.handle_failure(task_id, "w", "boom", None, 1, 0, variables=ATTEMPT)

    assert calls == ["handle_failure"]
    assert (await store.get(task_id)).variables == {"attempt": stored(1, "Integer")}


async def test_variables_go_to_the_nearest_scope_that_has_them(store: Store) -> None:
    """scoped_variables: the task "work" (in a sub-process) has the locals note and limit."""
    [scoped] = parse_bpmn(SCOPED.read_bytes(), "scoped.bpmn")
    serve_models(store, scoped)
    start = {"kind": stored("a", "String"), "limit": stored(10, "Integer")}
    state, _ = await store.start_instance(scoped, "scoped:1:test", start)
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("work-a", 10_000)])

    await store.handle_failure(
        task.id,
        "w",
        "boom",
        None,
        1,
        0,
        variables={"note": stored("changed", "String"), "fresh": stored(True, "Boolean")},
        local_variables={"tmp": stored(7, "Integer")},
    )

    after, _ = await store.instance_state(state.instance_id)
    assert after.variables == {**start, "fresh": stored(True, "Boolean")}
    assert locals_of(after, task.execution_id) == {
        "note": stored("changed", "String"),
        "limit": stored(20, "Long"),
        "tmp": stored(7, "Integer"),
    }


async def test_a_marked_task_whose_definitions_do_not_match_gets_the_variables_too(
    store: Store,
) -> None:
    """failing.bpmn's d_give_up is ``${giveUp}``: the expressions see the failure's variables."""
    failing = failing_model()
    serve_models(store, failing)
    state, _ = await store.start_instance(failing, "failing:1:test")
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("charge", 10_000)])

    kept = {"giveUp": stored(False, "Boolean")}
    assert await store.handle_failure(task.id, "w", "x", "no", 1, 0, variables=kept) is (
        TaskState.AVAILABLE
    )
    after, version = await store.instance_state(state.instance_id)
    assert (version, after.variables) == (2, kept)

    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("charge", 10_000)])
    thrown = {"giveUp": stored(True, "Boolean")}
    assert await store.handle_failure(task.id, "w", "x", "no", 1, 0, variables=thrown) is None
    after, _ = await store.instance_state(state.instance_id)
    assert after.variables == {**thrown, "code": stored("GIVE_UP", "String")}


async def test_a_step_committed_meanwhile_makes_the_failure_recompute_keeping_both(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance_id, task_id = await locked_order_task(store)
    real = store.instance_state
    raced: list[bool] = []

    async def racing(instance: str) -> tuple[InstanceState, int]:
        read = await real(instance)
        if not raced:  # another writer commits right after the failure's first read
            raced.append(True)
            await store.modify_variables(instance, {"other": stored("x", "String")})
        return read

    monkeypatch.setattr(store.repository, "read", racing)

    state = await store.handle_failure(task_id, "w", "boom", None, 3, 0, variables=ATTEMPT)

    assert state is TaskState.AVAILABLE
    after, version = await real(instance_id)
    assert version == 3  # start, the other writer, the failure (once)
    assert after.variables == {
        "amount": stored(42, "Integer"),
        "other": stored("x", "String"),
        "attempt": stored(1, "Integer"),
    }
    assert (await store.get(task_id)).retries == 3


async def test_a_failure_refused_after_the_engine_ran_writes_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The task is unlocked between the refusal and the commit: neither the variables nor the
    bookkeeping are written, since both are in the refused script call."""
    instance_id, task_id = await locked_order_task(store)
    real = store.instance_state

    async def unlocking(instance: str) -> tuple[InstanceState, int]:
        read = await real(instance)
        await store.unlock(task_id)
        return read

    monkeypatch.setattr(store.repository, "read", unlocking)

    with pytest.raises(WorkerMismatch):
        await store.handle_failure(task_id, "w", "boom", None, 0, 0, variables=ATTEMPT)

    after, version = await real(instance_id)
    task = await store.get(task_id)
    assert (version, after.variables) == (1, {"amount": stored(42, "Integer")})
    assert (task.state, task.retries, task.error_message) == (TaskState.AVAILABLE, None, None)
    assert await store.incidents() == []
