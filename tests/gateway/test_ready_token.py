"""``/health/ready`` echoes the run token ``redtask up`` gave its gateway, so that `up` reports
ready only when its own gateway answers (not another server on the port)."""

from __future__ import annotations

from tests.gateway.helpers import serve


async def test_ready_carries_the_run_token(settings, store):
    async with serve(settings.model_copy(update={"run_token": "abc123"}), store) as client:
        response = await client.get("/health/ready")

    assert response.status_code == 200
    assert response.headers["x-redtask-run"] == "abc123"


async def test_without_a_token_ready_has_no_run_header(client):
    response = await client.get("/health/ready")

    assert response.status_code == 200
    assert "x-redtask-run" not in response.headers
