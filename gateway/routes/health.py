"""Liveness and readiness probes for Kubernetes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from redtask.gateway.deps import StoreDep

router = APIRouter(prefix="/health", tags=["Health"])


@router.get("/live")
async def live() -> dict[str, str]:
    return {"status": "UP"}


@router.get("/ready")
async def ready(store: StoreDep) -> JSONResponse:
    try:
        await store.ping()
    except Exception as exc:  # any failure to reach Redis means not ready
        return JSONResponse({"status": "DOWN", "redis": str(exc)}, status_code=503)
    return JSONResponse({"status": "UP", "redis": "UP"})
