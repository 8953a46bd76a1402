"""Signal events end to end, only through the REST API: intermediate signal catch events woken
by ``POST /signal`` and by signal throw and end events of another instance, interrupting and
non-interrupting signal boundary events, and throws still pending after a crash."""

from __future__ import annotations

import httpx
import pytest

from redtask.broker import signal_delivery
from redtask.broker.scheduler import Scheduler
from redtask.broker.store import Store
from tests.gateway.constructs_helpers import (
    assert_active,
    assert_ended,
    assert_gone,
    deploy,
    fetch,
    open_tasks,
    start,
    typed,
    variables,
    work,
)
from tests.gateway.event_helpers import activities, signal

WOKEN = [
    ("start", "startEvent", "done"),
    ("go", "intermediateSignalCatch", "done"),
    ("run", "serviceTask", "done"),
    ("done", "noneEndEvent", "done"),
]


async def test_post_signal_wakes_every_waiting_instance(client: httpx.AsyncClient) -> None:
    await deploy(client, "signals", own=True)
    first, second = await start(client, "waiter"), await start(client, "waiter")
    assert await activities(client, first) == [
        ("start", "startEvent", "done"),
        ("go", "intermediateSignalCatch", "open"),
    ]
    other = await signal(client, "Stop")  # nobody waits for it
    assert other.status_code == 204, other.text
    await assert_active(client, first)
    go = await signal(client, "Go", variables={"speed": typed(3)})
    assert go.status_code == 204, go.text
    assert await variables(client, first) == {"speed": 3}
    assert await work(client, ["run"]) == ["run", "run"]
    for pi in (first, second):
        await assert_ended(client, pi, "COMPLETED")
        assert await activities(client, pi) == WOKEN
    again = await signal(client, "Go")  # the catch events are passed: nothing is left
    assert again.status_code == 204, again.text


async def test_a_signal_throw_wakes_two_instances_and_stops_a_third(
    client: httpx.AsyncClient,
) -> None:
    await deploy(client, "signals", own=True)
    waiters = [await start(client, "waiter"), await start(client, "waiter")]
    guarded = await start(client, "guarded")
    thrower = await start(client, "thrower")
    [work_task] = await fetch(client, ["work"])
    assert await work(client, ["prepare"]) == ["prepare"]  # then Go, then Stop at the end
    await assert_ended(client, thrower, "COMPLETED")
    assert await activities(client, thrower) == [
        ("t_start", "startEvent", "done"),
        ("prepare", "serviceTask", "done"),
        ("announce", "intermediateSignalThrow", "done"),
        ("stop_all", "signalEndEvent", "done"),
    ]
    assert await work(client, ["run"]) == ["run", "run"]
    for pi in waiters:
        await assert_ended(client, pi, "COMPLETED")
        assert await activities(client, pi) == WOKEN
    # Go nudged the guarded task (non-interrupting), Stop then interrupted it
    await assert_gone(client, work_task)
    await assert_ended(client, guarded, "COMPLETED")
    assert await activities(client, guarded) == [
        ("g_start", "startEvent", "done"),
        ("work", "serviceTask", "canceled"),
        ("nudged", "boundarySignal", "done"),
        ("nudge", "intermediateNoneThrowEvent", "done"),
        ("nudge_end", "noneEndEvent", "done"),
        ("stopped", "boundarySignal", "done"),
        ("halted", "noneEndEvent", "done"),
    ]


async def test_a_non_interrupting_signal_boundary_takes_every_throw_once(
    client: httpx.AsyncClient,
) -> None:
    await deploy(client, "signals", own=True)
    pi = await start(client, "guarded")
    for _ in range(2):
        assert (await signal(client, "Go")).status_code == 204
    assert await open_tasks(client, pi) == ["work"]
    nudges = [a for a in await activities(client, pi) if a[0] == "nudged"]
    assert len(nudges) == 2
    # the none throw event's input and output mappings ran, its input stayed local
    assert await variables(client, pi) == {"nudged": 2}
    assert await work(client, ["work"]) == ["work"]
    await assert_ended(client, pi, "COMPLETED")


async def test_a_signal_to_one_execution(client: httpx.AsyncClient) -> None:
    await deploy(client, "signals", own=True)
    first, second = await start(client, "waiter"), await start(client, "waiter")
    tree = await client.get(f"/engine-rest/process-instance/{first}/activity-instances")
    [go] = tree.json()["childActivityInstances"]
    [execution_id] = go["executionIds"]
    refused = await signal(client, "Stop", executionId=execution_id)
    assert refused.status_code == 400 or refused.status_code == 404, refused.text
    sent = await signal(client, "Go", executionId=execution_id)
    assert sent.status_code == 204, sent.text
    assert await work(client, ["run"]) == ["run"]
    await assert_ended(client, first, "COMPLETED")
    await assert_active(client, second)


async def test_a_throw_left_by_a_crashed_deliverer_is_delivered_by_the_scheduler(
    client: httpx.AsyncClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await deploy(client, "signals", own=True)
    waiters = [await start(client, "waiter") for _ in range(3)]
    await start(client, "thrower")

    async def died(partition: int, throw_ids: list[str]) -> None:
        """The process that committed the throws died before delivering them."""

    monkeypatch.setattr(store.repository, "signal_sink", died)
    monkeypatch.setattr(signal_delivery, "SCAN_COUNT", 1)
    assert await work(client, ["prepare"]) == ["prepare"]
    for pi in waiters:
        assert await open_tasks(client, pi) == []
    scheduler = Scheduler(store, "t")
    while await scheduler.run_once():
        pass
    assert await work(client, ["run"]) == ["run"] * 3
    for pi in waiters:
        await assert_ended(client, pi, "COMPLETED")
        assert await activities(client, pi) == WOKEN
    # delivering the same throws again (a second scheduler) wakes nobody twice
    assert await store.deliver_signals(100) == 0


async def test_a_throw_steps_a_bounded_number_of_instances_before_it_answers(
    client: httpx.AsyncClient, store: Store, monkeypatch: pytest.MonkeyPatch, partitions: int
) -> None:
    if partitions == 1:
        pytest.skip("8 waiters of one partition fit one SSCAN page: the bound shows across two")
    await deploy(client, "signals", own=True)
    waiters = [await start(client, "waiter") for _ in range(8)]
    monkeypatch.setattr(signal_delivery, "INLINE_DELIVERIES", 1)
    assert (await signal(client, "Go")).status_code == 204
    woken = [pi for pi in waiters if await open_tasks(client, pi) == ["run"]]
    spread = {store.keys.partition_of(pi) for pi in waiters}
    # the request stops after the first partition holding waiters; the scheduler does the rest
    assert 1 <= len(woken) < 8 or len(spread) == 1
    scheduler = Scheduler(store, "t")
    while await scheduler.run_once():
        pass
    assert await work(client, ["run"]) == ["run"] * 8
    assert await store.deliver_signals(100) == 0  # nothing is left to deliver
