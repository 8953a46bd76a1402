"""Event sub-processes end to end, only through the REST API: message, timer and error starts,
interrupting and non-interrupting, in the process and in an embedded sub-process."""

from __future__ import annotations

import httpx

from redtask.broker.store import Store
from tests.conftest import FakeClock
from tests.gateway.constructs_helpers import (
    API,
    HOUR,
    act,
    assert_active,
    assert_ended,
    assert_gone,
    deploy,
    fetch,
    fire_timers,
    open_tasks,
    start,
    variables,
    work,
)
from tests.gateway.event_helpers import activities, message

TOPICS = ["work", "compensate", "remind", "handle"]
SCOPED = ["step", "escalate", "after"]


async def test_an_interrupting_message_start_cancels_the_process_and_runs_instead(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deploy(client, "event_sub_processes", own=True)
    pi = await start(client, "order_events", businessKey="o-1")
    [task] = await fetch(client, TOPICS)
    cancelled = await message(client, "CancelOrder", businessKey="o-1")
    assert cancelled.status_code == 204, cancelled.text
    await assert_gone(client, task)
    await fire_timers(store, clock, 2 * HOUR)  # the reminder's timer went with the rest
    assert await work(client, TOPICS) == ["compensate"]
    await assert_ended(client, pi, "COMPLETED")
    assert await activities(client, pi) == [
        ("start", "startEvent", "done"),
        ("work", "serviceTask", "canceled"),
        ("on_cancel", "subProcess", "done"),
        ("cancel_start", "messageStartEvent", "done"),
        ("compensate", "serviceTask", "done"),
        ("cancel_end", "noneEndEvent", "done"),
    ]


async def test_a_non_interrupting_timer_start_runs_beside_the_process(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deploy(client, "event_sub_processes", own=True)
    pi = await start(client, "order_events")
    await fire_timers(store, clock, HOUR)
    assert await open_tasks(client, pi) == ["remind", "work"]
    tree = (await client.get(f"{API}/process-instance/{pi}/activity-instances")).json()
    children = {c["activityId"]: c for c in tree["childActivityInstances"]}
    assert sorted(children) == ["on_reminder", "work"]
    assert [c["activityId"] for c in children["on_reminder"]["childActivityInstances"]] == [
        "remind"
    ]
    assert await work(client, ["work"]) == ["work"]
    await assert_active(client, pi)  # the process waits for its event sub-process
    assert await work(client, ["remind"]) == ["remind"]
    await assert_ended(client, pi, "COMPLETED")
    assert await activities(client, pi) == [
        ("start", "startEvent", "done"),
        ("work", "serviceTask", "done"),
        ("on_reminder", "subProcess", "done"),
        ("reminder_start", "startTimerEvent", "done"),
        ("remind", "serviceTask", "done"),
        ("done", "noneEndEvent", "done"),
        ("reminder_end", "noneEndEvent", "done"),
    ]


async def test_an_error_start_catches_a_bpmn_error_of_the_process(
    client: httpx.AsyncClient,
) -> None:
    await deploy(client, "event_sub_processes", own=True)
    pi = await start(client, "order_events")
    [task] = await fetch(client, TOPICS)
    await act(client, task, ("error", "FAIL", "card declined", {}))
    assert await variables(client, pi) == {"code": "FAIL", "reason": "card declined"}
    assert await work(client, TOPICS) == ["handle"]
    await assert_ended(client, pi, "COMPLETED")
    assert [a[:2] for a in await activities(client, pi)] == [
        ("start", "startEvent"),
        ("work", "serviceTask"),
        ("on_error", "subProcess"),
        ("error_start", "errorStartEvent"),
        ("handle", "serviceTask"),
        ("error_end", "noneEndEvent"),
    ]


async def test_a_non_interrupting_message_start_takes_every_message_while_the_process_runs(
    client: httpx.AsyncClient,
) -> None:
    await deploy(client, "event_sub_processes", own=True)
    pi = await start(client, "order_events", businessKey="o-4")
    for _ in range(2):
        asked = await message(client, "Status", businessKey="o-4")
        assert asked.status_code == 204, asked.text
    assert await open_tasks(client, pi) == ["work"]
    assert await work(client, TOPICS) == ["work"]
    await assert_ended(client, pi, "COMPLETED")
    assert [a[0] for a in await activities(client, pi)].count("status_start") == 2
    assert (await message(client, "Status", businessKey="o-4")).status_code == 400


async def test_a_timer_start_in_a_sub_process_interrupts_only_that_sub_process(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deploy(client, "event_sub_processes", own=True)
    pi = await start(client, "scoped_events")
    [step] = await fetch(client, SCOPED)
    await fire_timers(store, clock, 2 * HOUR)
    await assert_gone(client, step)
    assert await work(client, SCOPED) == ["escalate", "after"]
    await assert_ended(client, pi, "COMPLETED")
    assert await activities(client, pi) == [
        ("p_start", "startEvent", "done"),
        ("inner", "subProcess", "done"),
        ("inner_start", "startEvent", "done"),
        ("step", "serviceTask", "canceled"),
        ("inner_timeout", "subProcess", "done"),
        ("timeout_start", "startTimerEvent", "done"),
        ("escalate", "serviceTask", "done"),
        ("timeout_end", "noneEndEvent", "done"),
        ("after", "serviceTask", "done"),
        ("p_end", "noneEndEvent", "done"),
    ]


async def test_an_error_start_in_a_sub_process_ends_it_normally(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deploy(client, "event_sub_processes", own=True)
    pi = await start(client, "scoped_events")
    [step] = await fetch(client, SCOPED)
    await act(client, step, ("error", "ANY", None, {}))
    await fire_timers(store, clock, 3 * HOUR)  # the sub-process's timer went with it
    assert await work(client, SCOPED) == ["after"]
    await assert_ended(client, pi, "COMPLETED")
    assert [a[0] for a in await activities(client, pi)] == [
        "p_start",
        "inner",
        "inner_start",
        "step",
        "inner_error",
        "inner_error_start",
        "inner_handled",
        "after",
        "p_end",
    ]


async def test_a_message_start_in_a_sub_process_listens_while_the_sub_process_runs(
    client: httpx.AsyncClient,
) -> None:
    await deploy(client, "event_sub_processes", own=True)
    pi = await start(client, "scoped_events", businessKey="s-1")
    poked = await message(client, "Poke", businessKey="s-1")
    assert poked.status_code == 204, poked.text  # non-interrupting: the step goes on
    assert await open_tasks(client, pi) == ["step"]
    assert await work(client, ["step"]) == ["step"]
    assert (await message(client, "Poke", businessKey="s-1")).status_code == 400
    assert await work(client, SCOPED) == ["after"]
    await assert_ended(client, pi, "COMPLETED")
    assert await activities(client, pi) == [
        ("p_start", "startEvent", "done"),
        ("inner", "subProcess", "done"),
        ("inner_start", "startEvent", "done"),
        ("step", "serviceTask", "done"),
        ("inner_poke", "subProcess", "done"),
        ("poke_start", "messageStartEvent", "done"),
        ("poke_end", "noneEndEvent", "done"),
        ("inner_end", "noneEndEvent", "done"),
        ("after", "serviceTask", "done"),
        ("p_end", "noneEndEvent", "done"),
    ]
