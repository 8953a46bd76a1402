"""Liveness and readiness probes for Kubernetes."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from redtask.gateway.deps import SettingsDep, StoreDep

router = APIRouter(prefix="/health", tags=["Health"])

# a readiness probe must answer within the probe's own timeout (Kubernetes: 1 s by default),
# also while Redis is paused or every pooled connection is busy
READY_TIMEOUT_S = 0.8


@router.get("/live")
async def live() -> dict[str, str]:
    return {"status": "UP"}


@router.get("/ready")
async def ready(store: StoreDep, settings: SettingsDep) -> JSONResponse:
    """200 once Redis answers; ``X-Redtask-Run`` tells ``redtask up`` it is its own gateway."""
    headers = {"X-Redtask-Run": settings.run_token} if settings.run_token else None
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            await store.ping()
    except TimeoutError:
        return JSONResponse(
            {"status": "DOWN", "redis": f"no answer within {READY_TIMEOUT_S} s"}, status_code=503
        )
    except Exception as exc:  # any failure to reach Redis means not ready
        body = {"status": "DOWN", "redis": str(exc)}
        return JSONResponse(body, status_code=503, headers=headers)
    return JSONResponse({"status": "UP", "redis": "UP"}, headers=headers)
