"""BPMN data and events end to end, only through the REST API: input / output mappings, timer
catch and boundary timer events, message catch events and receive tasks."""

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
    completing,
    deploy,
    fetch,
    fire_timers,
    plain,
    start,
    typed,
    variables,
    work,
)

# input / output mappings ---------------------------------------------------------------------


async def test_input_output_mappings(client: httpx.AsyncClient) -> None:
    await deploy(client, "input_output")
    customer = {"id": 42, "name": "Ann"}
    pi = await start(client, "mapping", {"region": "eu", "priority": 7, "customer": customer})
    seen = await fetch(client, ["eu-lookup"])  # topic and priority are expressions
    assert [(t["activityId"], t["priority"]) for t in seen] == [("lookup", 7)]
    assert plain(seen[0]["variables"]) == {
        "region": "eu",
        "priority": 7,
        "customer": customer,
        "customerId": 42,
        "greeting": "Hello Ann",
        "constant": "fixed",
        "nothing": None,
    }
    # the inputs are local to the task: the process does not see them
    assert await variables(client, pi) == {"region": "eu", "priority": 7, "customer": customer}
    await act(client, seen[0], ("complete", {"result": {"score": 9}, "extra": "x"}, {"tmp": 1}))
    await assert_ended(client, pi, "COMPLETED")


async def test_output_mapping_seen_while_running(client: httpx.AsyncClient) -> None:
    await deploy(client, "io_then_task", own=True)
    pi = await start(client, "io_wait", {"customer": {"id": 42, "name": "Ann"}})
    [task] = await fetch(client, ["lookup"])
    assert plain(task["variables"]) == {
        "customer": {"id": 42, "name": "Ann"},
        "customerId": 42,
    }
    await act(client, task, ("complete", {"result": {"score": 9}, "extra": "x"}, {"tmp": 1}))
    [after] = await fetch(client, ["after"])
    assert after["activityId"] == "after"
    # only the mapped output reaches the process; completion variables and locals stay behind
    assert await variables(client, pi) == {"customer": {"id": 42, "name": "Ann"}, "score": 9}
    await act(client, after, ("complete", {}, None))
    await assert_ended(client, pi, "COMPLETED")


# timers --------------------------------------------------------------------------------------


async def test_timer_catch(client: httpx.AsyncClient, store: Store, clock: FakeClock) -> None:
    await deploy(client, "timer_catch")
    pi = await start(client, "waiting", {"x": 1})
    await fire_timers(store, clock, 26 * HOUR - 1)
    await assert_active(client, pi)
    await fire_timers(store, clock, 1)  # P1DT2H is due: 'wait' moves on to 'until'
    await assert_active(client, pi)
    assert await variables(client, pi) == {"x": 1}
    until = 1_893_484_800_000  # 2030-01-01T09:00:00+01:00
    await fire_timers(store, clock, until - clock.now - 1)
    await assert_active(client, pi)
    await fire_timers(store, clock, 1)
    await assert_ended(client, pi, "COMPLETED")


async def test_boundary_timers(client: httpx.AsyncClient, store: Store, clock: FakeClock) -> None:
    await deploy(client, "boundary_timer")
    pi = await start(client, "reminders", {"reminderDelay": "PT1H"})
    [approve] = await fetch(client, ["approve", "remind"])
    assert approve["activityId"] == "approve"
    await fire_timers(store, clock, HOUR)  # non-interrupting: a reminder, approve stays
    assert await work(client, ["remind"]) == ["send_reminder"]
    await assert_active(client, pi)
    await fire_timers(store, clock, 47 * HOUR)  # interrupting: approve is cancelled
    await assert_ended(client, pi, "COMPLETED")
    gone = await client.post(
        f"{API}/external-task/{approve['id']}/complete", json={"workerId": "w"}
    )
    assert gone.status_code == 404, gone.text
    assert await fetch(client, ["approve", "remind"]) == []


async def test_completing_the_task_cancels_its_boundary_timers(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deploy(client, "boundary_timer")
    pi = await start(client, "reminders", {"reminderDelay": "PT1H"})
    assert await work(client, ["approve", "remind"], completing(approve={"ok": True})) == [
        "approve"
    ]
    await assert_ended(client, pi, "COMPLETED")
    await fire_timers(store, clock, 48 * HOUR)
    assert await fetch(client, ["approve", "remind"]) == []
    await assert_ended(client, pi, "COMPLETED")


# messages ------------------------------------------------------------------------------------


async def test_message_catch_and_receive_task(client: httpx.AsyncClient) -> None:
    await deploy(client, "messages")
    pi = await start(client, "correlate", {"x": 1}, businessKey="order-1")
    other = await start(client, "correlate", {"x": 2}, businessKey="order-2")
    early = await client.post(
        f"{API}/message", json={"messageName": "Shipped", "businessKey": "order-1"}
    )
    assert early.status_code == 400, early.text  # nobody waits for Shipped yet
    paid = await client.post(
        f"{API}/message",
        json={
            "messageName": "PaymentReceived",
            "businessKey": "order-1",
            "processVariables": {"paid": typed(True)},
        },
    )
    assert paid.status_code == 204, paid.text
    await assert_active(client, pi)
    assert await variables(client, pi) == {"x": 1, "paid": True}
    assert await variables(client, other) == {"x": 2}
    shipped = await client.post(
        f"{API}/message",
        json={
            "messageName": "Shipped",
            "businessKey": "order-1",
            "processVariables": {"carrier": typed("DHL")},
        },
    )
    assert shipped.status_code == 204, shipped.text
    await assert_ended(client, pi, "COMPLETED")
    await assert_active(client, other)
