"""A timer that would fall outside the dates redtask stores exactly (a duration computed from
the client's variables) is refused like any bad input: 400 at the start, nothing stored."""

from __future__ import annotations

import httpx
import pytest

from redtask.broker.store import Store
from tests.gateway.constructs_helpers import deploy
from tests.gateway.helpers import API


@pytest.mark.parametrize("delay", ["P9000Y", "P4000Y", "-P100Y"])
async def test_a_timer_beyond_the_supported_dates_refuses_the_start(
    client: httpx.AsyncClient, store: Store, delay: str
) -> None:
    await deploy(client, "boundary_timer")
    body = {"variables": {"reminderDelay": {"value": delay, "type": "String"}}}
    started = await client.post(f"{API}/process-definition/key/reminders/start", json=body)

    assert started.status_code == 400, started.text
    answer = started.json()
    assert (answer["type"], answer["code"]) == ("RestException", 0)
    assert answer["message"].startswith("Cannot instantiate process definition reminders:")
    assert "Cannot evaluate the timer of '" in answer["message"]
    assert (await client.get(f"{API}/process-instance")).json() == []
    assert (await client.get(f"{API}/external-task")).json() == []


async def test_a_timer_within_the_supported_dates_starts(client: httpx.AsyncClient) -> None:
    await deploy(client, "boundary_timer")
    body = {"variables": {"reminderDelay": {"value": "P3000Y", "type": "String"}}}
    started = await client.post(f"{API}/process-definition/key/reminders/start", json=body)
    assert started.status_code == 200, started.text
