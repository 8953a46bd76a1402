"""While Redis is unreachable the gateway answers 503 with an ExceptionDto, not a traceback."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from redtask.broker.connection import client_for
from redtask.broker.embedded import free_port
from redtask.broker.settings import Settings
from redtask.broker.store import Store


async def test_requests_get_503_with_a_camunda_body_while_redis_is_unreachable(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    unreachable = client_for(f"redis://127.0.0.1:{free_port()}/0")
    app.state.store = Store(unreachable, settings)  # as if Redis went away after startup
    try:
        response = await client.get("/engine-rest/external-task/count")
    finally:
        await unreachable.aclose()

    assert response.status_code == 503
    body = response.json()
    assert (body["type"], body["code"]) == ("ProcessEngineException", 0)
    assert body["message"].startswith("Redis unavailable: ")
    assert "Connect" in body["message"]
