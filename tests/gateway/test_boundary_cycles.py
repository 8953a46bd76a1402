"""Timer cycles on boundary and catch events end to end through the REST API: a
non-interrupting timer boundary event with a cycle takes its path at every occurrence while
the activity runs (a reminder every hour); on a catch event or an interrupting boundary event
a cycle fires once, at its first occurrence (Camunda accepts both, warning against them)."""

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
    fetch,
    fire_timers,
    open_tasks,
    work,
)
from tests.gateway.start_helpers import HEAD, activity_ids, deployed, timer


def reminder(cycle: str, interrupting: bool = False) -> bytes:
    """'work' (topic work) with a timer boundary event 'every' leading to 'remind' (topic
    reminders)."""
    cancel = "true" if interrupting else "false"
    return (
        f'{HEAD}<process id="reminding" isExecutable="true"><startEvent id="s"/>'
        '<sequenceFlow id="f1" sourceRef="s" targetRef="work"/>'
        '<serviceTask id="work" camunda:type="external" camunda:topic="work"/>'
        '<sequenceFlow id="f2" sourceRef="work" targetRef="done"/><endEvent id="done"/>'
        f'<boundaryEvent id="every" attachedToRef="work" cancelActivity="{cancel}">'
        f"{timer('timeCycle', cycle)}</boundaryEvent>"
        '<sequenceFlow id="f3" sourceRef="every" targetRef="remind"/>'
        '<serviceTask id="remind" camunda:type="external" camunda:topic="reminders"/>'
        '<sequenceFlow id="f4" sourceRef="remind" targetRef="reminded"/>'
        '<endEvent id="reminded"/></process></definitions>'
    ).encode()


async def start(client: httpx.AsyncClient) -> str:
    response = await client.post(f"{API}/process-definition/key/reminding/start", json={})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def test_a_reminder_every_hour_while_the_task_is_open(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deployed(client, "reminding", reminder("R/PT1H"))
    pi = await start(client)
    await fire_timers(store, clock, HOUR - 1)
    assert await open_tasks(client, pi) == ["work"]
    await fire_timers(store, clock, 1)
    await fire_timers(store, clock, HOUR)
    assert await open_tasks(client, pi) == ["remind", "remind", "work"]
    assert await work(client, ["reminders"]) == ["remind", "remind"]
    await fire_timers(store, clock, HOUR // 2)
    [task] = await fetch(client, ["work"])
    await act(client, task, ("complete", {}, None))  # the activity ends: its timer goes
    await assert_ended(client, pi, "COMPLETED")
    await fire_timers(store, clock, 10 * HOUR)
    assert await open_tasks(client, pi) == []
    assert await activity_ids(client, pi) == [
        *("s", "work", "every", "remind", "every", "remind"),
        *("reminded", "reminded", "done"),
    ]


async def test_a_bounded_cycle_stops_after_its_repetitions(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deployed(client, "reminding", reminder("R2/PT1H"))
    pi = await start(client)
    for _ in range(5):
        await fire_timers(store, clock, HOUR)
    assert await open_tasks(client, pi) == ["remind", "remind", "work"]
    assert await work(client, ["reminders", "work"]) == ["remind", "remind", "work"]
    await assert_ended(client, pi, "COMPLETED")


async def test_a_cron_cycle_on_a_boundary_event(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deployed(client, "reminding", reminder("0 0 * * * ?"))  # on the hour, in UTC
    pi = await start(client)  # 22:13:20
    await fire_timers(store, clock, 46 * 60_000 + 40_000)  # 23:00:00
    await fire_timers(store, clock, HOUR)
    assert await open_tasks(client, pi) == ["remind", "remind", "work"]


async def test_an_interrupting_boundary_cycle_fires_once_at_its_first_occurrence(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deployed(client, "reminding", reminder("R3/PT1H", interrupting=True))
    pi = await start(client)
    await fire_timers(store, clock, HOUR)
    assert await open_tasks(client, pi) == ["remind"]
    assert await work(client, ["reminders"]) == ["remind"]
    await assert_ended(client, pi, "COMPLETED")
    assert await activity_ids(client, pi) == ["s", "work", "every", "remind", "reminded"]


async def test_a_catch_event_cycle_waits_for_its_first_occurrence(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    content = (
        f'{HEAD}<process id="pause" isExecutable="true"><startEvent id="s"/>'
        '<sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>'
        f'<intermediateCatchEvent id="wait">{timer("timeCycle", "R3/PT10M")}'
        '</intermediateCatchEvent><sequenceFlow id="f2" sourceRef="wait" targetRef="e"/>'
        '<endEvent id="e"/></process></definitions>'
    ).encode()
    await deployed(client, "pause", content)
    pi = (await client.post(f"{API}/process-definition/key/pause/start", json={})).json()["id"]
    await fire_timers(store, clock, 10 * 60_000 - 1)
    await assert_active(client, pi)
    await fire_timers(store, clock, 1)
    await assert_ended(client, pi, "COMPLETED")
