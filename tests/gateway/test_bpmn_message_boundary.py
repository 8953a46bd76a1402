"""Message boundary events end to end, only through the REST API: interrupting and
non-interrupting, on an external task and on an embedded sub-process."""

from __future__ import annotations

import httpx

from tests.gateway.constructs_helpers import (
    assert_active,
    assert_ended,
    assert_gone,
    deploy,
    fetch,
    open_tasks,
    plain,
    start,
    typed,
    variables,
    work,
)
from tests.gateway.event_helpers import activities, message

TOPICS = ["approve", "remind", "pack", "refund"]


async def test_an_interrupting_message_cancels_the_task(client: httpx.AsyncClient) -> None:
    await deploy(client, "message_boundary", own=True)
    pi = await start(client, "approval", businessKey="a-1")
    [approve] = await fetch(client, TOPICS)
    cancelled = await message(
        client, "Cancel", businessKey="a-1", processVariables={"reason": typed("late")}
    )
    assert cancelled.status_code == 204, cancelled.text
    await assert_gone(client, approve)
    await assert_ended(client, pi, "COMPLETED")
    assert await activities(client, pi) == [
        ("start", "startEvent", "done"),
        ("approve", "serviceTask", "canceled"),
        ("cancelled", "boundaryMessage", "done"),
        ("withdrawn", "noneEndEvent", "done"),
    ]


async def test_a_non_interrupting_message_leaves_the_task_and_waits_for_more(
    client: httpx.AsyncClient,
) -> None:
    await deploy(client, "message_boundary", own=True)
    pi = await start(client, "approval", businessKey="a-2")
    for _ in range(2):  # the subscription stays open: every message starts a reminder
        reminded = await message(client, "Remind", businessKey="a-2")
        assert reminded.status_code == 204, reminded.text
    assert await open_tasks(client, pi) == ["approve", "remind", "remind"]
    assert await work(client, ["remind"]) == ["remind", "remind"]
    await assert_active(client, pi)
    assert await work(client, ["approve"]) == ["approve"]
    await assert_ended(client, pi, "COMPLETED")
    assert await activities(client, pi) == [
        ("start", "startEvent", "done"),
        ("approve", "serviceTask", "done"),
        ("reminded", "boundaryMessage", "done"),
        ("remind", "serviceTask", "done"),
        ("reminded", "boundaryMessage", "done"),
        ("remind", "serviceTask", "done"),
        ("reminder_sent", "noneEndEvent", "done"),
        ("reminder_sent", "noneEndEvent", "done"),
        ("approved", "noneEndEvent", "done"),
    ]
    # the task is done: its boundary events no longer listen
    assert (await message(client, "Remind", businessKey="a-2")).status_code == 400


async def test_messages_on_a_sub_process(client: httpx.AsyncClient) -> None:
    await deploy(client, "message_boundary", own=True)
    pi = await start(client, "fulfilment", {"order": 1}, businessKey="f-1")
    [pack] = await fetch(client, TOPICS)
    asked = await message(client, "Remind", businessKey="f-1")
    assert asked.status_code == 204, asked.text  # non-interrupting: a path ends beside it
    await assert_active(client, pi)
    assert await open_tasks(client, pi) == ["pack"]
    aborted = await message(
        client, "Abort", businessKey="f-1", processVariables={"aborted": typed(True)}
    )
    assert aborted.status_code == 204, aborted.text
    await assert_gone(client, pack)
    assert await variables(client, pi) == {"order": 1, "aborted": True}
    assert await work(client, TOPICS) == ["refund"]
    await assert_ended(client, pi, "COMPLETED")
    assert await activities(client, pi) == [
        ("f_start", "startEvent", "done"),
        ("fulfil", "subProcess", "canceled"),
        ("fulfil_start", "startEvent", "done"),
        ("pack", "serviceTask", "canceled"),
        ("status_asked", "boundaryMessage", "done"),
        ("status_noted", "noneEndEvent", "done"),
        ("aborted", "boundaryMessage", "done"),
        ("refund", "serviceTask", "done"),
        ("refunded", "noneEndEvent", "done"),
    ]


async def test_completing_the_task_closes_its_message_boundaries(
    client: httpx.AsyncClient,
) -> None:
    await deploy(client, "message_boundary", own=True)
    pi = await start(client, "fulfilment", businessKey="f-2")
    assert await work(client, TOPICS) == ["pack"]
    await assert_ended(client, pi, "COMPLETED")
    assert await activities(client, pi) == [
        ("f_start", "startEvent", "done"),
        ("fulfil", "subProcess", "done"),
        ("fulfil_start", "startEvent", "done"),
        ("pack", "serviceTask", "done"),
        ("fulfil_end", "noneEndEvent", "done"),
        ("delivered", "noneEndEvent", "done"),
    ]
    for name in ("Abort", "Remind"):
        assert (await message(client, name, businessKey="f-2")).status_code == 400


async def test_local_variables_of_a_boundary_message_go_to_its_activity(
    client: httpx.AsyncClient,
) -> None:
    await deploy(client, "message_boundary", own=True)
    pi = await start(client, "approval", {"x": 1}, businessKey="a-3")
    reminded = await message(
        client,
        "Remind",
        businessKey="a-3",
        processVariablesLocal={"note": typed("hurry")},
        processVariables={"reminders": typed(1)},
    )
    assert reminded.status_code == 204, reminded.text
    assert await variables(client, pi) == {"x": 1, "reminders": 1}
    [approve] = await fetch(client, ["approve"])
    assert plain(approve["variables"]) == {"x": 1, "reminders": 1, "note": "hurry"}
    # the activity's locals are what localCorrelationKeys match
    missed = await message(
        client, "Cancel", businessKey="a-3", localCorrelationKeys={"note": typed("later")}
    )
    assert missed.status_code == 400, missed.text
    hit = await message(
        client, "Cancel", businessKey="a-3", localCorrelationKeys={"note": typed("hurry")}
    )
    assert hit.status_code == 204, hit.text
    await assert_gone(client, approve)
