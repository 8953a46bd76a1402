"""BPMN scopes and errors end to end, only through the REST API: embedded sub-processes, boundary
error events by code and catch-all, error end events, terminate end events, errors no boundary
event catches, and camunda:errorEventDefinition on complete."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.gateway.constructs_helpers import (
    API,
    Action,
    act,
    assert_ended,
    assert_gone,
    completing,
    deploy,
    fetch,
    fetch_each,
    open_tasks,
    plain,
    start,
    variables,
    work,
)

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


# an error no boundary event catches (BpmnExceptionHandler.propagateError: the execution ends) --


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
