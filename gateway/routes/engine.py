"""GET /engine and GET /version."""

from __future__ import annotations

from fastapi import APIRouter

CAMUNDA_VERSION = "7.24.0"

router = APIRouter(tags=["Engine"])
engines_router = APIRouter(tags=["Engine"])


@engines_router.get("/engine")
async def engines() -> list[dict[str, str]]:
    return [{"name": "default"}]


@router.get("/version")
async def version() -> dict[str, str]:
    return {"version": CAMUNDA_VERSION}
