"""FastAPI app factory: the Camunda 7 REST API under ``settings.gateway_root_path``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from broker.settings import Settings
from broker.store import Store, open_store
from gateway.routes import engine, health


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """Build the app. Without ``store`` it connects to ``settings.redis_url`` on startup."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = store is None
        app.state.store = store or await open_store(settings)
        try:
            yield
        finally:
            if owned:
                await app.state.store.close()

    app = FastAPI(
        title="redtask",
        summary="Camunda-7-compatible external-task REST API on Redis",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(health.router)
    root = settings.gateway_root_path.rstrip("/")
    for prefix in (root, f"{root}/engine/default"):
        app.include_router(engine.router, prefix=prefix)
    app.include_router(engine.engines_router, prefix=root)
    return app
