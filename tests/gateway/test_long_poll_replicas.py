"""Long polling across real gateway processes: wake-ups cross replicas, shutdown answers
parked polls with [] at once, and a client that goes away frees its slot."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx

from tests.processes import gateway_process, redtask_env

POLL = {"workerId": "w", "maxTasks": 1, "topics": [{"topicName": "wake", "lockDuration": 10_000}]}


async def _park(client: httpx.AsyncClient, base: str, timeout_ms: int) -> tuple[float, list]:
    started = time.monotonic()
    response = await client.post(
        f"{base}/engine-rest/external-task/fetchAndLock",
        json={**POLL, "asyncResponseTimeout": timeout_ms},
        timeout=timeout_ms / 1000 + 5,
    )
    assert response.status_code == 200
    return time.monotonic() - started, response.json()


async def test_a_task_published_through_one_gateway_wakes_a_poll_parked_on_another(
    redis_url: str, namespace: str
) -> None:
    env = redtask_env(redis_url, namespace)
    with gateway_process(env) as gateway_a, gateway_process(env) as gateway_b:
        async with httpx.AsyncClient() as client:
            parked = asyncio.create_task(_park(client, gateway_b, 20_000))
            await asyncio.sleep(0.5)  # the poll is parked on B by now
            published = time.monotonic()
            response = await client.post(f"{gateway_a}/redtask/topics/wake/tasks", json={})
            [task_id] = response.json()["ids"]
            _, tasks = await parked
            delivered_after = time.monotonic() - published
    assert [t["id"] for t in tasks] == [task_id]
    assert delivered_after < 1.0


async def test_shutdown_answers_parked_polls_with_an_empty_list(
    redis_url: str, namespace: str
) -> None:
    env = redtask_env(redis_url, namespace)
    with gateway_process(env) as gateway:
        async with httpx.AsyncClient() as client:
            parked = asyncio.create_task(_park(client, gateway, 60_000))
            await asyncio.sleep(0.5)
            gateway.process.send_signal(signal.SIGTERM)
            waited, tasks = await asyncio.wait_for(parked, 10)
    assert tasks == []
    assert waited < 5


async def test_a_poll_that_times_out_gets_an_empty_list_and_a_gone_client_frees_its_slot(
    redis_url: str, namespace: str
) -> None:
    env = redtask_env(redis_url, namespace, REDTASK_GATEWAY_MAX_PARKED_POLLS="1")
    with gateway_process(env) as gateway:
        async with httpx.AsyncClient() as client:
            waited, tasks = await _park(client, gateway, 300)
            assert tasks == [] and 0.3 <= waited < 2
            # the single slot is taken by a poll whose client then disconnects
            gone = asyncio.create_task(_park(client, gateway, 60_000))
            await asyncio.sleep(0.3)
            busy = await client.post(
                f"{gateway}/engine-rest/external-task/fetchAndLock",
                json={**POLL, "asyncResponseTimeout": 1000},
            )
            assert busy.status_code == 500
            assert busy.json()["message"].startswith("At the moment the server has to handle")
            gone.cancel()
        await asyncio.sleep(0.3)
        async with httpx.AsyncClient() as client:
            waited, tasks = await _park(client, gateway, 300)
            assert tasks == []
