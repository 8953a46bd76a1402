"""BPMN flow constructs end to end, only through the REST API: start -> task -> end and the
exclusive, parallel and inclusive gateways, checking which activities got tasks, the variables
and how the instance ended."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.gateway.constructs_helpers import (
    act,
    assert_active,
    assert_ended,
    completing,
    deploy,
    fetch,
    plain,
    start,
    variables,
    work,
)

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
