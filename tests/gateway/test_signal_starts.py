"""A signal both wakes the executions waiting for it and starts the processes with a signal
start event for it, as Camunda's SignalEventReceivedCmd and ThrowSignalEventActivityBehavior:
whether ``POST /signal`` throws it or a signal throw or end event of a process does, and also
when the scheduler delivers a throw whose deliverer died, once per throw."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from redtask.broker.scheduler import Scheduler
from redtask.broker.store import Store
from tests.gateway.constructs_helpers import API, assert_ended, start, work
from tests.gateway.start_helpers import HEAD, SIGNAL, deployed, process, started_instances

WAITER = (
    f'{HEAD}<process id="waiter" isExecutable="true"><startEvent id="ws"/>'
    '<sequenceFlow id="w1" sourceRef="ws" targetRef="catch"/>'
    f'<intermediateCatchEvent id="catch">{SIGNAL}</intermediateCatchEvent>'
    '<sequenceFlow id="w2" sourceRef="catch" targetRef="wend"/><endEvent id="wend"/>'
    "</process></definitions>"
).encode()

# throws "alarm" twice: at its throw event and at its end event
THROWER = (
    f'{HEAD}<process id="thrower" isExecutable="true"><startEvent id="ts"/>'
    '<sequenceFlow id="t1" sourceRef="ts" targetRef="throw"/>'
    f'<intermediateThrowEvent id="throw">{SIGNAL}</intermediateThrowEvent>'
    '<sequenceFlow id="t2" sourceRef="throw" targetRef="tend"/>'
    f'<endEvent id="tend">{SIGNAL}</endEvent>'
    "</process></definitions>"
).encode()


async def _deploy_all(client: httpx.AsyncClient) -> None:
    await deployed(client, "waiter", WAITER)
    await deployed(client, "thrower", THROWER)
    await deployed(client, "starter", process("starter", ("on_alarm", SIGNAL)))


async def test_post_signal_wakes_the_waiters_and_starts_the_signal_start_processes(
    client: httpx.AsyncClient,
) -> None:
    await _deploy_all(client)
    waiter = await start(client, "waiter")
    response = await client.post(f"{API}/signal", json={"name": "alarm"})
    assert response.status_code == 204, response.text
    await assert_ended(client, waiter, "COMPLETED")
    [started] = await started_instances(client, "starter")
    assert started["startActivityId"] == "on_alarm"
    assert await work(client, ["starter"]) == ["on_alarm_task"]


async def test_signal_throw_and_end_events_start_the_signal_start_processes(
    client: httpx.AsyncClient,
) -> None:
    await _deploy_all(client)
    waiter = await start(client, "waiter")
    thrower = await start(client, "thrower")
    await assert_ended(client, thrower, "COMPLETED")
    await assert_ended(client, waiter, "COMPLETED")
    # one instance per throw: the throw event's and the end event's
    assert len(await started_instances(client, "starter")) == 2
    assert await work(client, ["starter"]) == ["on_alarm_task", "on_alarm_task"]


async def test_the_scheduler_starts_them_once_for_a_throw_whose_deliverer_died(
    client: httpx.AsyncClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _deploy_all(client)

    async def died(partition: int, throw_ids: list[str]) -> None:
        """The process that committed the throws died before delivering them."""

    monkeypatch.setattr(store.repository, "signal_sink", died)
    await start(client, "thrower")
    assert await started_instances(client, "starter") == []
    scheduler = Scheduler(store, "t")
    while await scheduler.run_once():
        pass
    assert len(await started_instances(client, "starter")) == 2
    # delivering the same throws again (a second scheduler) starts nothing more
    assert await store.deliver_signals(100) == 0
    assert len(await started_instances(client, "starter")) == 2


async def test_two_deliverers_at_once_start_them_once(
    client: httpx.AsyncClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _deploy_all(client)

    async def died(partition: int, throw_ids: list[str]) -> None:
        """The process that committed the throws died before delivering them."""

    monkeypatch.setattr(store.repository, "signal_sink", died)
    await start(client, "thrower")
    await asyncio.gather(store.deliver_signals(100), store.deliver_signals(100))
    assert len(await started_instances(client, "starter")) == 2
