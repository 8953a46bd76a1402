"""A wake-up costs fetches in proportion to the tasks it delivers, not to the parked polls: it
wakes one idle plain poll of its topic (and every filtered one), and a poll that got tasks
wakes the next ones, so a whole batch still reaches the polls at once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from redtask.broker.model import NewTask
from redtask.broker.store import Store
from tests.gateway.fetch_helpers import FETCH
from tests.gateway.helpers import fetch_body, topic


async def park(
    client: httpx.AsyncClient, app: FastAPI, bodies: list[dict[str, Any]]
) -> list[asyncio.Task[httpx.Response]]:
    before = app.state.hub.parked
    polls = [asyncio.create_task(client.post(FETCH, json=body)) for body in bodies]
    for _ in range(500):
        if app.state.hub.parked == before + len(bodies):
            break
        await asyncio.sleep(0.01)
    assert app.state.hub.parked == before + len(bodies)
    await asyncio.sleep(0.05)  # every poll's first fetch has answered
    return polls


def count_fetches(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Fetches that have answered, counted as they answer."""
    calls = [0]
    original = store.fetch_and_lock

    async def counted(*args: Any, **kwargs: Any) -> Any:
        try:
            return await original(*args, **kwargs)
        finally:
            calls[0] += 1

    monkeypatch.setattr(store, "fetch_and_lock", counted)
    return calls


async def test_one_task_published_while_200_polls_are_parked_costs_at_most_three_fetches(
    client: httpx.AsyncClient, app: FastAPI, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = fetch_body(topic("t"), max_tasks=1, asyncResponseTimeout=5_000)
    calls = count_fetches(store, monkeypatch)
    polls = await park(client, app, [body] * 200)
    for _ in range(500):  # every poll's first fetch has answered
        if calls[0] == 200:
            break
        await asyncio.sleep(0.01)
    assert calls[0] == 200

    task_id = await store.publish(NewTask(topic="t"))
    await asyncio.sleep(0.5)

    assert calls[0] - 200 <= 3  # the woken poll, and the two it woke in turn
    answers = [(await poll).json() for poll in polls]
    assert [[t["id"] for t in a] for a in answers if a] == [[task_id]]


async def test_a_batch_published_with_one_wake_up_reaches_every_parked_poll_within_a_second(
    client: httpx.AsyncClient, app: FastAPI, store: Store
) -> None:
    body = fetch_body(topic("t"), max_tasks=1, asyncResponseTimeout=20_000)
    polls = await park(client, app, [body] * 30)
    published = time.monotonic()

    ids = await store.publish_many([NewTask(topic="t") for _ in range(30)])
    answers = await asyncio.wait_for(asyncio.gather(*polls), 5)

    assert time.monotonic() - published < 1
    assert sorted(t["id"] for a in answers for t in a.json()) == sorted(ids)


async def test_a_filtered_poll_parked_first_does_not_take_the_wake_up_of_a_plain_one(
    client: httpx.AsyncClient, app: FastAPI, store: Store
) -> None:
    [filtered] = await park(
        client, app, [fetch_body(topic("t", businessKey="other"), asyncResponseTimeout=1_000)]
    )
    [plain] = await park(client, app, [fetch_body(topic("t"), asyncResponseTimeout=20_000)])
    published = time.monotonic()

    task_id = await store.publish(NewTask(topic="t", business_key="mine"))
    response = await asyncio.wait_for(plain, 5)

    assert time.monotonic() - published < 0.5
    assert [t["id"] for t in response.json()] == [task_id]
    assert (await filtered).json() == []
