"""FastAPI app factory.

The Camunda 7 REST API lives under ``settings.gateway_root_path`` (and ``/engine/default``
beneath it), redtask's extension under ``/redtask``, the operator dashboard under
``/redtask/ui`` (linked from ``/``), the probes under ``/health``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from zoneinfo import ZoneInfo

from fastapi import FastAPI

from redtask.broker.settings import Settings
from redtask.broker.store import Store, open_store
from redtask.gateway import docs, errors, ui
from redtask.gateway.access_log import AccessLog
from redtask.gateway.auth import DOCS, BasicAuth, load_users
from redtask.gateway.hot import Gateway, HotRoutes
from redtask.gateway.limits import BodyGuard, EngineGuard
from redtask.gateway.longpoll import WakeHub
from redtask.gateway.metrics import GatewayMetrics, MetricsMiddleware
from redtask.gateway.routes import (
    deployment,
    engine,
    execution,
    extension,
    external_task,
    health,
    history,
    history_activity,
    history_incident,
    history_task_log,
    history_variable,
    incident,
    job,
    message,
    metrics,
    process_definition,
    process_instance,
    signal,
)


def create_app(
    settings: Settings | None = None, store: Store | None = None, access_log: bool = False
) -> FastAPI:
    """Build the app. Without ``store`` it connects to ``settings.redis_url`` on startup; with
    ``access_log``, every request is logged with a request id (``gateway.access_log``)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = store is None
        app.state.store = store or await open_store(settings, wait_s=settings.redis_startup_wait_s)
        app.state.hub = WakeHub(app.state.store, settings.gateway_max_parked_polls)
        app.state.hub.start()
        gauges.report_on(app.state.store)
        gauges.parked.set_function(lambda: app.state.hub.parked)
        app.state.hub.wake_latency = gauges.wake_latency.observe
        try:
            yield
        finally:
            gauges.report_on(None)
            await app.state.hub.stop()
            if owned:
                await app.state.store.close()

    app = Gateway(
        title="redtask",
        summary="Camunda-7-compatible external-task REST API on Redis",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served from local assets by gateway.docs
        redoc_url=None,
        # FastAPI >= 0.16x asks OpenTelemetry for providers on every request; redtask exports
        # Prometheus metrics of its own (older FastAPI keeps unknown arguments in app.extra)
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.metrics = gauges = GatewayMetrics()
    app.state.timezone = ZoneInfo(settings.timezone)
    errors.install(app)
    docs.install(app)
    # routes are matched in order: the hot ones first
    app.include_router(extension.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    root = settings.gateway_root_path.rstrip("/")
    for prefix in (root, f"{root}/engine/default"):
        app.include_router(engine.router, prefix=prefix)
        app.include_router(external_task.router, prefix=prefix)
        app.include_router(deployment.router, prefix=prefix)
        app.include_router(process_definition.router, prefix=prefix)
        app.include_router(process_instance.router, prefix=prefix)
        app.include_router(incident.router, prefix=prefix)
        app.include_router(job.router, prefix=prefix)
        app.include_router(history.router, prefix=prefix)
        app.include_router(history_activity.router, prefix=prefix)
        app.include_router(history_task_log.router, prefix=prefix)
        app.include_router(history_variable.router, prefix=prefix)
        app.include_router(history_incident.router, prefix=prefix)
        app.include_router(message.router, prefix=prefix)
        app.include_router(signal.router, prefix=prefix)
        app.include_router(execution.router, prefix=prefix)
    app.include_router(engine.engines_router, prefix=root)
    ui.install(app)
    app.add_middleware(BodyGuard, max_bytes=settings.gateway_max_body_bytes)
    authenticated = None
    if settings.auth_enabled:
        protected = (root, "/redtask") + (() if settings.auth_open_docs else DOCS)
        users = load_users(settings)
        app.add_middleware(BasicAuth, users=users, protected=protected, root=root)
        authenticated = BasicAuth(app, users, protected, root).authenticated
    app.add_middleware(EngineGuard, root=root, auth_enabled=settings.auth_enabled)
    app.add_middleware(MetricsMiddleware, metrics=gauges)
    if access_log:
        app.add_middleware(AccessLog)
    else:  # the access log sees every request: no hot path beside it
        app.hot = HotRoutes(app, root, settings.gateway_max_body_bytes, authenticated)
    return app
