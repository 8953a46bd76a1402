"""The one retry-on-conflict executor of instance commands, and the store as a facade over
components (no mixins, one-line delegations with the components' signatures)."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from redtask.broker import engine
from redtask.broker.errors import E_CONFLICT, E_PROCESS, BrokerError, InstanceNotFound
from redtask.broker.executor import MAX_ATTEMPTS, Found, Ready, Step, Write
from redtask.broker.store import Store
from redtask.broker.task_outcomes import HandOff, outcome_of
from tests.broker.test_instances import model, serve_models

STRING = {"type": "String", "value": "x"}


async def started(store: Store) -> str:
    order = model("simple")
    serve_models(store, order)
    state, _ = await store.start_instance(order, "order:1:test")
    return state.instance_id


async def test_a_command_is_run_again_on_the_state_another_writer_committed(store: Store) -> None:
    instance_id = await started(store)
    seen: list[int] = []

    async def command(found: Found) -> Write[Step]:
        seen.append(found.version)
        if len(seen) == 1:  # another step commits between this read and this write
            await store.modify_variables(instance_id, {"other": STRING})
        variables = {**found.state.variables, "mine": STRING}
        new_state = engine.InstanceState(**{**_fields(found.state), "variables": variables})
        return found.commit(new_state, engine.Effects())

    state, _ = await store.executor.execute(instance_id, command, "test not committed")

    assert seen == [1, 2]
    after, version = await store.instance_state(instance_id)
    assert version == 3
    assert set(after.variables) == {"other", "mine"} == set(state.variables)


async def test_commands_of_one_instance_take_turns_within_a_process(store: Store) -> None:
    instance_id = await started(store)
    seen: list[int] = []

    async def command(found: Found) -> Write[Step]:
        seen.append(found.version)
        await asyncio.sleep(0.001)  # the others run meanwhile
        variables = {**found.state.variables, f"v{found.version}": STRING}
        new_state = engine.InstanceState(**{**_fields(found.state), "variables": variables})
        return found.commit(new_state, engine.Effects())

    reads: list[str] = []
    read = store.executor.repo.read

    async def counted(instance: str) -> tuple[engine.InstanceState, int]:
        reads.append(instance)
        return await read(instance)

    store.executor.repo.read = counted  # type: ignore[method-assign]
    runs = [store.executor.execute(instance_id, command, "not committed") for _ in range(8)]
    await asyncio.gather(*runs)

    assert seen == list(range(1, 9))  # each saw what the previous wrote: not one conflict
    assert reads == [instance_id]  # handed on from one to the next, read once
    assert store.executor._turns == {}  # nothing kept once no command runs
    after, version = await store.instance_state(instance_id)
    assert version == 9 and len(after.variables) == 8


async def test_a_state_handed_on_is_read_again_after_a_conflict(store: Store) -> None:
    instance_id = await started(store)
    seen: list[int] = []

    async def command(found: Found) -> Write[Step]:
        seen.append(found.version)
        if len(seen) == 2:  # another process writes between the two turns
            await store.executor.repo.db.execute(
                "HINCRBY", store.keys.instance(instance_id), "ver", 1
            )
        variables = {**found.state.variables, f"v{len(seen)}": STRING}
        new_state = engine.InstanceState(**{**_fields(found.state), "variables": variables})
        return found.commit(new_state, engine.Effects())

    runs = [store.executor.execute(instance_id, command, "not committed") for _ in range(2)]
    await asyncio.gather(*runs)

    assert seen == [1, 2, 3]  # the second turn got version 2 handed on, conflicted, read 3


async def test_a_ready_answer_writes_nothing(store: Store) -> None:
    instance_id = await started(store)

    async def command(found: Found) -> Ready[int]:
        return Ready(found.version)

    assert await store.executor.execute(instance_id, command, "nothing") == 1
    assert (await store.instance_state(instance_id))[1] == 1


async def test_an_instance_that_keeps_changing_is_given_up_naming_the_operation(
    store: Store,
) -> None:
    instance_id = await started(store)
    attempts: list[int] = []

    async def conflict() -> list[Any]:
        attempts.append(1)
        return [E_CONFLICT, "9"]

    async def command(found: Found) -> Write[None]:
        return Write(conflict, lambda _: None)

    with pytest.raises(BrokerError, match=f"{instance_id} kept changing; thing not done"):
        await store.executor.execute(instance_id, command, "thing not done")
    assert len(attempts) == MAX_ATTEMPTS


async def test_an_unknown_instance_is_not_found_before_the_command_runs(store: Store) -> None:
    async def command(found: Found) -> Ready[None]:
        raise AssertionError("ran")

    with pytest.raises(InstanceNotFound):
        await store.executor.execute("nope", command, "nothing")


def test_a_process_task_is_handed_over_as_a_value() -> None:
    assert outcome_of([E_PROCESS], task_id="t-1") == HandOff("t-1")
    assert outcome_of([0, ""], task_id="t-1") is None


def test_the_store_is_a_facade_not_a_tower_of_mixins(store: Store) -> None:
    assert Store.__mro__ == (Store, object)
    delegated = [name for name, member in vars(Store).items() if hasattr(member, "__wrapped__")]
    assert len(delegated) >= 30
    for name in delegated:
        method = getattr(store, name)
        target = method.__wrapped__
        owner = target.__qualname__.split(".")[0]
        component = next(c for c in vars(store).values() if type(c).__name__ == owner)
        assert method.__doc__ == target.__doc__, name
        assert inspect.signature(method) == inspect.signature(getattr(component, target.__name__))
    # the hot paths are written out: same parameters and docstring as the component's method
    for name, component in [
        ("publish_many", store.tasks),
        ("fetch_and_lock", store.tasks),
        ("complete_many", store.outcomes),
    ]:
        ours, theirs = getattr(store, name), getattr(component, name)
        assert ours.__doc__ == theirs.__doc__, name
        assert inspect.signature(ours).parameters == inspect.signature(theirs).parameters, name


def _fields(state: engine.InstanceState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in state.__dataclass_fields__}
