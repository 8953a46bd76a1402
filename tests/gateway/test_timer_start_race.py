"""Two schedulers, each on its own Redis connection and its own thread, racing over the same
due times of timer start events: every due time starts exactly one instance."""

from __future__ import annotations

import asyncio
import threading

import httpx

from redtask.broker.connection import client_for
from redtask.broker.scheduler import Scheduler
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from tests.conftest import FakeClock
from tests.gateway.start_helpers import deployed, process, started_instances, timer

ROUNDS = 12


def scheduler_thread(
    url: str,
    settings: Settings,
    clock: FakeClock,
    name: str,
    go: threading.Barrier,
    done: threading.Barrier,
    started: list[int],
) -> None:
    """Run one scheduler pass per round, every pass of a round released at once."""

    async def main() -> None:
        client = client_for(url)
        try:
            scheduler = Scheduler(Store(client, settings, clock), name)
            for _ in range(ROUNDS):
                await asyncio.to_thread(go.wait)
                while await scheduler.run_once():
                    pass
                await asyncio.to_thread(done.wait)
            started.append(scheduler.counts.timers_fired)
        finally:
            await client.aclose()

    asyncio.run(main())


async def test_two_schedulers_start_each_due_time_once(
    client: httpx.AsyncClient, store_url: str, settings: Settings, clock: FakeClock
) -> None:
    cycles = {"every_second": "R8/PT1S", "cron": "* * * * * ?", "twice": "R2/PT3S"}
    for key, cycle in cycles.items():
        await deployed(client, key, process(key, ("tick", timer("timeCycle", cycle))))
    go, done = threading.Barrier(3), threading.Barrier(3)
    started: list[int] = []
    threads = [
        threading.Thread(
            target=scheduler_thread, args=(store_url, settings, clock, n, go, done, started)
        )
        for n in ("a", "b")
    ]
    for thread in threads:
        thread.start()
    for _ in range(ROUNDS):
        clock.advance(1_000)
        await asyncio.to_thread(go.wait)
        await asyncio.to_thread(done.wait)
    for thread in threads:
        await asyncio.to_thread(thread.join, 30)
    counts = {key: len(await started_instances(client, key)) for key in cycles}
    assert counts == {"every_second": 8, "cron": ROUNDS, "twice": 2}
    assert sum(started) == 8 + ROUNDS + 2  # what both schedulers report started
