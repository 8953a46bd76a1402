"""BPMN constructs end to end, only through the REST API: deploy a fixture, start it, let a
worker loop fetch and complete its external tasks, and check which activities got tasks,
the variables and how the instance ended."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from redtask.broker.scheduler import Scheduler
from redtask.broker.store import Store
from tests.conftest import FakeClock

FILES = Path(__file__).resolve().parents[1] / "broker" / "bpmn" / "files"
OWN_FILES = Path(__file__).resolve().parent / "bpmn"
API = "/engine-rest"
HOUR = 3_600_000

# what a worker does with a fetched task: ("complete", variables, local variables),
# ("error", code, message, variables) or ("leave",) to keep it locked
Action = tuple[Any, ...]


def typed(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"type": "Boolean", "value": value}
    if isinstance(value, int):
        return {"type": "Integer", "value": value}
    if isinstance(value, str):
        return {"type": "String", "value": value}
    if value is None:
        return {"type": "Null", "value": None}
    return {"type": "Json", "value": json.dumps(value)}


def typed_map(values: dict[str, Any] | None) -> dict[str, Any]:
    return {name: typed(value) for name, value in (values or {}).items()}


def plain(variables: dict[str, Any]) -> dict[str, Any]:
    """Typed REST variables -> plain values (Json parsed)."""
    out = {}
    for name, variable in variables.items():
        value = variable["value"]
        out[name] = json.loads(value) if variable["type"] == "Json" else value
    return out


async def deploy(client: httpx.AsyncClient, name: str, own: bool = False) -> None:
    content = ((OWN_FILES if own else FILES) / f"{name}.bpmn").read_bytes()
    response = await client.post(
        f"{API}/deployment/create",
        data={"deployment-name": name},
        files={"data": (f"{name}.bpmn", content, "application/xml")},
    )
    assert response.status_code == 200, response.text


async def start(
    client: httpx.AsyncClient, key: str, variables: dict[str, Any] | None = None, **extra: Any
) -> str:
    response = await client.post(
        f"{API}/process-definition/key/{key}/start",
        json={"variables": typed_map(variables), **extra},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def fetch(client: httpx.AsyncClient, topics: Sequence[str]) -> list[dict[str, Any]]:
    response = await client.post(
        f"{API}/external-task/fetchAndLock",
        json={
            "workerId": "w",
            "maxTasks": 50,
            "topics": [{"topicName": t, "lockDuration": 600_000} for t in topics],
        },
    )
    assert response.status_code == 200, response.text
    return list(response.json())


async def fetch_each(client: httpx.AsyncClient, topics: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Fetch and lock; the tasks by activity id (the order of one fetch is not defined)."""
    return {t["activityId"]: t for t in await fetch(client, topics)}


async def act(client: httpx.AsyncClient, task: dict[str, Any], action: Action) -> None:
    url = f"{API}/external-task/{task['id']}"
    if action[0] == "complete":
        _, variables, local = action
        body = {"workerId": "w", "variables": typed_map(variables)}
        if local:
            body["localVariables"] = typed_map(local)
        response = await client.post(f"{url}/complete", json=body)
    elif action[0] == "error":
        _, code, message, variables = action
        response = await client.post(
            f"{url}/bpmnError",
            json={
                "workerId": "w",
                "errorCode": code,
                "errorMessage": message,
                "variables": typed_map(variables),
            },
        )
    else:
        return
    assert response.status_code == 204, response.text


def completing(**per_activity: dict[str, Any]) -> Callable[[dict[str, Any]], Action]:
    return lambda task: ("complete", per_activity.get(task["activityId"], {}), None)


async def work(
    client: httpx.AsyncClient,
    topics: Sequence[str],
    handle: Callable[[dict[str, Any]], Action] | None = None,
    order: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
    seen: list[dict[str, Any]] | None = None,
) -> list[str]:
    """Fetch and handle tasks until none is left; the activity ids of the fetched tasks."""
    handle = handle or completing()
    activities: list[str] = []
    for _ in range(20):
        tasks = await fetch(client, topics)
        if not tasks:
            return activities
        tasks.sort(key=lambda t: t["activityId"])
        for task in order(tasks) if order else tasks:
            activities.append(task["activityId"])
            if seen is not None:
                seen.append(task)
            await act(client, task, handle(task))
    raise AssertionError("the worker never ran out of tasks")


async def variables(client: httpx.AsyncClient, instance_id: str) -> dict[str, Any]:
    response = await client.get(f"{API}/process-instance/{instance_id}/variables")
    assert response.status_code == 200, response.text
    return plain(response.json())


async def assert_ended(client: httpx.AsyncClient, instance_id: str, state: str) -> None:
    gone = await client.get(f"{API}/process-instance/{instance_id}")
    assert gone.status_code == 404, gone.text
    history = await client.get(f"{API}/history/process-instance/{instance_id}")
    assert history.status_code == 200, history.text
    assert history.json()["state"] == state


async def assert_active(client: httpx.AsyncClient, instance_id: str) -> None:
    running = await client.get(f"{API}/process-instance/{instance_id}")
    assert running.status_code == 200, running.text
    history = await client.get(f"{API}/history/process-instance/{instance_id}")
    assert history.json()["state"] == "ACTIVE"


async def open_tasks(client: httpx.AsyncClient, instance_id: str) -> list[str]:
    """The activity ids of the instance's external tasks, locked or not."""
    response = await client.get(f"{API}/external-task", params={"processInstanceId": instance_id})
    assert response.status_code == 200, response.text
    return sorted(t["activityId"] for t in response.json())


async def assert_gone(client: httpx.AsyncClient, task: dict[str, Any]) -> None:
    """The task no longer exists: reading it is a 404, and so is completing it."""
    got = await client.get(f"{API}/external-task/{task['id']}")
    assert got.status_code == 404, got.text
    url = f"{API}/external-task/{task['id']}/complete"
    completed = await client.post(url, json={"workerId": "w"})
    assert completed.status_code == 404, completed.text


async def fire_timers(store: Store, clock: FakeClock, ms: int) -> None:
    clock.advance(ms)
    scheduler = Scheduler(store, "t")
    while await scheduler.run_once():
        pass


# start -> task -> end ------------------------------------------------------------------------


async def test_start_task_end(client: httpx.AsyncClient) -> None:
    await deploy(client, "simple")
    pi = await start(client, "order", {"amount": 42}, businessKey="B-1")
    seen: list[dict[str, Any]] = []
    handle = completing(charge={"charged": True, "amount": 43})
    assert await work(client, ["charge-card"], handle, seen=seen) == ["charge"]
    assert plain(seen[0]["variables"]) == {"amount": 42}
    assert seen[0]["businessKey"] == "B-1" and seen[0]["processInstanceId"] == pi
    await assert_ended(client, pi, "COMPLETED")


# exclusive gateway ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start_variables, expected",
    [
        ({"amount": 5000, "customer": {"tier": "std"}}, ["review"]),  # f_big
        ({"amount": 50, "customer": {"tier": "vip"}}, ["review"]),  # f_vip
        ({"amount": 5, "customer": {"tier": "vip"}}, []),  # default f_small
        ({"amount": 50, "customer": {"tier": "std"}}, []),  # default f_small
    ],
    ids=["big", "vip", "vip-small-default", "std-default"],
)
async def test_exclusive_gateway(
    client: httpx.AsyncClient, start_variables: dict[str, Any], expected: list[str]
) -> None:
    await deploy(client, "exclusive_gateway")
    pi = await start(client, "approval", start_variables)
    if expected:
        await assert_active(client, pi)
        assert await variables(client, pi) == start_variables
    assert await work(client, ["review"], completing(review={"reviewed": True})) == expected
    await assert_ended(client, pi, "COMPLETED")


# every branch of exclusive_conditions.bpmn has its own topic; ROUTED holds no condition
ROUTE_TOPICS = [f"route-{b}" for b in ("gold", "big", "urgent", "small", "no-note", "manual")]
ROUTED = dict(status="silver", amount=50, region="us", rush=False, member=True, note="hi")


@pytest.mark.parametrize(
    "changes, branch",
    [
        ({"status": "gold"}, "gold"),  # ${status == 'gold'}
        ({"status": "Gold"}, "manual"),  # string equality is case-sensitive
        ({"status": "gold", "amount": 500, "region": "eu"}, "gold"),  # first in document order
        ({"amount": 51}, "big"),  # ${amount * 2 > 100}: 102
        ({"region": "eu"}, "urgent"),  # ${region == 'eu' or rush}: left side
        ({"rush": True}, "urgent"),  # right side
        ({"member": False, "amount": 10}, "small"),  # ${not member && !(amount > 10)}
        ({"member": False, "amount": 11}, "manual"),  # !(11 > 10) is false
        ({"note": ""}, "no_note"),  # ${empty note}
        ({"note": None}, "no_note"),
        ({"note": []}, "no_note"),
        ({}, "manual"),  # the default flow: 50 * 2 is not > 100, and so on
    ],
    ids=[
        "equal", "case-sensitive", "first-wins", "arithmetic", "or-left", "or-right", "not",
        "not-false", "empty-string", "empty-null", "empty-list", "default",
    ],
)  # fmt: skip
async def test_exclusive_gateway_conditions(
    client: httpx.AsyncClient, changes: dict[str, Any], branch: str
) -> None:
    await deploy(client, "exclusive_conditions", own=True)
    start_variables = {**ROUTED, **changes}
    pi = await start(client, "routing", start_variables)
    [task] = await fetch(client, ROUTE_TOPICS)
    topic = "route-no-note" if branch == "no_note" else f"route-{branch}"
    assert (task["activityId"], task["topicName"]) == (branch, topic)
    assert plain(task["variables"]) == start_variables
    await assert_active(client, pi)
    await act(client, task, ("complete", {}, None))
    assert await fetch(client, ROUTE_TOPICS) == []
    await assert_ended(client, pi, "COMPLETED")


# parallel fork / join ------------------------------------------------------------------------


@pytest.mark.parametrize("first", ["bill", "pack"])
async def test_parallel_fork_and_join(client: httpx.AsyncClient, first: str) -> None:
    await deploy(client, "parallel_gateway")
    pi = await start(client, "fulfil", {"order": 1})
    tasks = await fetch(client, ["pack", "bill"])
    # the condition on f_pack is ignored: a parallel gateway takes every outgoing flow
    assert sorted(t["activityId"] for t in tasks) == ["bill", "pack"]
    tasks.sort(key=lambda t: t["activityId"] != first)
    await act(client, tasks[0], ("complete", {f"{first}_done": True}, None))
    await assert_active(client, pi)  # the join waits for the other branch
    assert await variables(client, pi) == {"order": 1, f"{first}_done": True}
    assert await fetch(client, ["pack", "bill"]) == []  # nothing new before the join
    other = tasks[1]["activityId"]
    await act(client, tasks[1], ("complete", {f"{other}_done": True}, None))
    assert await fetch(client, ["pack", "bill"]) == []
    await assert_ended(client, pi, "COMPLETED")


# inclusive gateway ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start_variables, expected",
    [
        ({"email": "a@b.c", "phone": "123"}, ["mail", "sms"]),
        ({"email": "a@b.c", "phone": None}, ["mail"]),
        ({"email": "", "phone": "123"}, ["sms"]),
        ({"email": "", "phone": None}, ["letter"]),  # default flow
    ],
    ids=["both", "mail", "sms", "default"],
)
async def test_inclusive_gateway(
    client: httpx.AsyncClient, start_variables: dict[str, Any], expected: list[str]
) -> None:
    await deploy(client, "inclusive_gateway")
    pi = await start(client, "notify", start_variables)
    tasks = await fetch(client, ["mail", "sms", "letter"])
    assert sorted(t["activityId"] for t in tasks) == expected
    for n, task in enumerate(sorted(tasks, key=lambda t: t["activityId"])):
        await assert_active(client, pi)  # the merge waits for every activated branch
        await act(client, task, ("complete", {f"sent_{task['activityId']}": n}, None))
    assert await fetch(client, ["mail", "sms", "letter"]) == []
    await assert_ended(client, pi, "COMPLETED")


# embedded sub-process ------------------------------------------------------------------------


async def test_embedded_sub_process(client: httpx.AsyncClient) -> None:
    await deploy(client, "sub_process")
    pi = await start(client, "shipping", {"parcel": "P1"})
    tasks = await fetch(client, ["print-label"])
    assert [t["activityId"] for t in tasks] == ["label"]
    assert plain(tasks[0]["variables"]) == {"parcel": "P1"}
    await act(client, tasks[0], ("complete", {"labelled": True}, None))
    await assert_ended(client, pi, "COMPLETED")


SHIPPING_TOPICS = ["print-label", "refill-ink", "dispatch", "report-failure"]


@pytest.mark.parametrize(
    "outcome, path, last_sees",
    [
        (None, ["label", "dispatch"], {"labelled": True}),
        # caught by the label's own handler, inside the sub-process, which then ends normally
        (
            ("NO_INK", "cartridge empty"),
            ["label", "refill", "dispatch"],
            {"inkMessage": "cartridge empty", "refilled": True},
        ),
        # the label's handler only catches NO_INK: the sub-process's catch-all takes it
        (("NO_PRINTER", "jam"), ["label", "report_failure"], {"failure": "NO_PRINTER"}),
    ],
    ids=["no-error", "caught-inside", "caught-on-the-sub-process"],
)
async def test_an_error_inside_a_sub_process_is_caught_by_the_nearest_matching_scope(
    client: httpx.AsyncClient,
    outcome: tuple[str, str] | None,
    path: list[str],
    last_sees: dict[str, Any],
) -> None:
    await deploy(client, "sub_process_error_handlers", own=True)
    pi = await start(client, "shipping_handlers", {"parcel": "P1"})

    def handle(task: dict[str, Any]) -> Action:
        if task["activityId"] == "label" and outcome is not None:
            return ("error", *outcome, {})
        done = {"label": "labelled", "refill": "refilled"}.get(task["activityId"])
        return ("complete", {done: True} if done else {}, None)

    seen: list[dict[str, Any]] = []
    assert await work(client, SHIPPING_TOPICS, handle, seen=seen) == path
    assert plain(seen[-1]["variables"]) == {"parcel": "P1", **last_sees}
    await assert_ended(client, pi, "COMPLETED")


# boundary error: by code vs catch-all --------------------------------------------------------


@pytest.mark.parametrize(
    "code, handler, topic, error_variables",
    [
        (
            "CARD_DECLINED",
            "handle_declined",
            "declined",
            {"code": "CARD_DECLINED", "msg": "no funds"},
        ),
        ("FRAUD", "handle_fraud", "fraud", {}),  # on_fraud's errorRef names no error: the code
        ("SOMETHING_ELSE", "handle_any", "any-error", {}),  # the catch-all sets no variables
    ],
)
async def test_boundary_error_by_code_and_catch_all(
    client: httpx.AsyncClient, code: str, handler: str, topic: str, error_variables: dict[str, Any]
) -> None:
    await deploy(client, "boundary_error_handlers", own=True)
    pi = await start(client, "payment_handlers", {"amount": 10})
    topics = ["charge", "declined", "fraud", "any-error"]
    [charge] = await fetch(client, topics)
    assert charge["activityId"] == "charge"
    await act(client, charge, ("error", code, "no funds", {"attempt": 2}))
    await assert_gone(client, charge)  # even on_declined, marked non-interrupting, interrupts
    [task] = await fetch(client, topics)
    assert (task["activityId"], task["topicName"]) == (handler, topic)
    assert await open_tasks(client, pi) == [handler]
    assert await variables(client, pi) == {"amount": 10, "attempt": 2, **error_variables}
    await act(client, task, ("complete", {"handled": True}, None))
    assert await fetch(client, topics) == []
    await assert_ended(client, pi, "COMPLETED")


async def test_boundary_error_sets_code_and_message_variables(
    client: httpx.AsyncClient,
) -> None:
    # the fixture's handlers lead straight to an end event; here they lead to tasks, so the
    # instance waits and its variables can be read
    await deploy(client, "boundary_error_then_task", own=True)
    pi = await start(client, "payment_task", {"amount": 10})
    tasks = await fetch(client, ["charge"])
    assert [t["activityId"] for t in tasks] == ["charge"]
    await act(client, tasks[0], ("error", "CARD_DECLINED", "no funds", {"attempt": 2}))
    tasks = await fetch(client, ["charge", "notify"])
    assert [t["activityId"] for t in tasks] == ["notify_declined"]
    assert await variables(client, pi) == {
        "amount": 10,
        "attempt": 2,
        "code": "CARD_DECLINED",
        "msg": "no funds",
    }
    await act(client, tasks[0], ("complete", {}, None))
    await assert_ended(client, pi, "COMPLETED")

    pi = await start(client, "payment_task", {"amount": 10})
    tasks = await fetch(client, ["charge"])
    await act(client, tasks[0], ("error", "OTHER", "nope", {}))
    tasks = await fetch(client, ["charge", "notify"])
    assert [t["activityId"] for t in tasks] == ["notify_other"]
    assert await variables(client, pi) == {"amount": 10}  # the catch-all sets no variables
    await act(client, tasks[0], ("complete", {}, None))
    await assert_ended(client, pi, "COMPLETED")


# error end event -----------------------------------------------------------------------------


STOCK_TOPICS = ["check-stock", "notify-customer", "ship", "backorder"]


async def test_error_end_event_caught_on_the_sub_process_then_terminate(
    client: httpx.AsyncClient,
) -> None:
    await deploy(client, "error_end_event_handlers", own=True)
    pi = await start(client, "reserve_handlers", {"sku": "X"})
    tasks = await fetch_each(client, STOCK_TOPICS)
    assert sorted(tasks) == ["check", "notify"]
    check, notify = tasks["check"], tasks["notify"]
    # nothing left: stock_out throws OUT_OF_STOCK, and no_stock catches it on the sub-process
    await act(client, check, ("complete", {"left": 0}, None))
    [backorder] = await fetch(client, STOCK_TOPICS)
    assert backorder["activityId"] == "backorder"
    assert await open_tasks(client, pi) == ["backorder", "notify"]
    assert await variables(client, pi) == {
        "sku": "X",
        "left": 0,
        "code": "OUT_OF_STOCK",
        "msg": "Nothing left",  # the bpmn:error's camunda:errorMessage
    }
    # kill, a terminate end event, cancels the notify branch that still waits
    await act(client, backorder, ("complete", {}, None))
    await assert_gone(client, notify)
    assert await fetch(client, STOCK_TOPICS) == []
    await assert_ended(client, pi, "COMPLETED")


async def test_an_error_end_event_not_reached_leaves_the_sub_process_normally(
    client: httpx.AsyncClient,
) -> None:
    await deploy(client, "error_end_event_handlers", own=True)
    pi = await start(client, "reserve_handlers", {"sku": "X"})
    tasks = await fetch_each(client, STOCK_TOPICS)
    check, notify = tasks["check"], tasks["notify"]
    await act(client, check, ("complete", {"left": 3}, None))
    [ship] = await fetch(client, STOCK_TOPICS)
    assert ship["activityId"] == "ship"
    await act(client, ship, ("complete", {}, None))
    assert await open_tasks(client, pi) == ["notify"]  # no terminate on this path
    assert await variables(client, pi) == {"sku": "X", "left": 3}
    await act(client, notify, ("complete", {}, None))
    await assert_ended(client, pi, "COMPLETED")


# terminate end event -------------------------------------------------------------------------

RACE_TOPICS = ["slow", "inner-slow", "inner-fast", "fast"]


async def test_terminate_end_events_cancel_the_branches_still_waiting_in_their_scope(
    client: httpx.AsyncClient,
) -> None:
    await deploy(client, "terminate_end_event", own=True)
    pi = await start(client, "race", {"n": 1})
    tasks = await fetch_each(client, RACE_TOPICS)
    assert sorted(tasks) == ["inner_fast", "inner_slow", "slow"]
    # inside the sub-process the terminate end event ends only the sub-process
    await act(client, tasks["inner_fast"], ("complete", {"innerDone": True}, None))
    await assert_gone(client, tasks["inner_slow"])
    [fast] = await fetch(client, RACE_TOPICS)
    assert fast["activityId"] == "fast"
    assert await open_tasks(client, pi) == ["fast", "slow"]
    assert await variables(client, pi) == {"n": 1, "innerDone": True}
    # at the top it ends the instance, with the 'slow' branch still waiting
    await act(client, fast, ("complete", {}, None))
    await assert_gone(client, tasks["slow"])
    assert await fetch(client, RACE_TOPICS) == []
    await assert_ended(client, pi, "COMPLETED")


# an error no boundary event catches (§6.4: the execution ends) -------------------------------

ERROR_TOPICS = ["risky", "after", "handle-other", "steady"]


async def test_an_unhandled_error_ends_its_execution_and_so_a_lone_path_the_instance(
    client: httpx.AsyncClient,
) -> None:
    await deploy(client, "unhandled_error", own=True)
    pi = await start(client, "lone_error", {"n": 1})
    [risky] = await fetch(client, ERROR_TOPICS)
    assert risky["activityId"] == "risky"
    # 'guarded' catches only OTHER: nothing catches NOBODY_CATCHES, and 'after' never comes
    await act(client, risky, ("error", "NOBODY_CATCHES", "boom", {"tried": 1}))
    await assert_gone(client, risky)
    assert await fetch(client, ERROR_TOPICS) == []
    await assert_ended(client, pi, "COMPLETED")

    caught = await start(client, "lone_error", {"n": 2})  # the same process, OTHER is caught
    [risky] = await fetch(client, ERROR_TOPICS)
    await act(client, risky, ("error", "OTHER", "boom", {}))
    [handler] = await fetch(client, ERROR_TOPICS)
    assert handler["activityId"] == "handle_other"
    await act(client, handler, ("complete", {}, None))
    await assert_ended(client, caught, "COMPLETED")


async def test_an_unhandled_error_in_a_parallel_branch_ends_only_that_branch(
    client: httpx.AsyncClient,
) -> None:
    await deploy(client, "unhandled_error", own=True)
    pi = await start(client, "parallel_error", {"n": 1})
    tasks = await fetch_each(client, ERROR_TOPICS)
    assert sorted(tasks) == ["p_risky_task", "p_steady_task"]
    risky, steady = tasks["p_risky_task"], tasks["p_steady_task"]
    await act(client, risky, ("error", "NOBODY_CATCHES", "boom", {"tried": 1}))
    await assert_gone(client, risky)
    assert await fetch(client, ERROR_TOPICS) == []  # no 'p_after'
    assert await open_tasks(client, pi) == ["p_steady_task"]
    assert await variables(client, pi) == {"n": 1, "tried": 1}  # set before the error ran
    await act(client, steady, ("complete", {}, None))
    await assert_ended(client, pi, "COMPLETED")


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


# camunda:errorEventDefinition ----------------------------------------------------------------


@pytest.mark.parametrize(
    "completion, ended_by",
    [
        ({"timedOut": True}, "TIMEOUT"),
        ({"timedOut": False, "declined": True}, "CARD_DECLINED"),
        ({"timedOut": False, "declined": False}, None),
    ],
)
async def test_error_event_definition_on_complete(
    client: httpx.AsyncClient, completion: dict[str, Any], ended_by: str | None
) -> None:
    await deploy(client, "error_event_definition_vars", own=True)
    pi = await start(client, "charging_vars", {"amount": 3})
    assert await work(client, ["x"], completing(t=completion)) == ["t"]
    tasks = await fetch(client, ["after", "caught_timeout", "caught_declined"])
    expected = {
        "TIMEOUT": "on_timeout_task",
        "CARD_DECLINED": "on_declined_task",
        None: "after_task",
    }[ended_by]
    assert [t["activityId"] for t in tasks] == [expected]
    extra = {"code": "TIMEOUT", "message": None} if ended_by == "TIMEOUT" else {}
    assert await variables(client, pi) == {"amount": 3, **completion, **extra}
    await act(client, tasks[0], ("complete", {}, None))
    await assert_ended(client, pi, "COMPLETED")


async def test_error_event_definition_sees_the_tasks_error_details(
    client: httpx.AsyncClient,
) -> None:
    """The fixture's first definition reads ``externalTask.getErrorDetails()``: a failure with
    those details throws Error_1 at once (caught by 'caught', which ends the process)."""
    await deploy(client, "error_event_definition")
    pi = await start(client, "charging", {"timedOut": False})
    [task] = await fetch(client, ["x"])
    failed = await client.post(
        f"{API}/external-task/{task['id']}/failure",
        json={
            "workerId": "w",
            "errorMessage": "charge failed",
            "errorDetails": "gateway says: card declined",
            "retries": 1,
            "retryTimeout": 0,
        },
    )
    assert failed.status_code == 204, failed.text
    assert await fetch(client, ["x"]) == []
    await assert_ended(client, pi, "COMPLETED")
