"""What ``redtask worker`` and ``redtask rq-bridge`` share: settings and flags applied to a
Worker, JSON log lines, and a run that SIGTERM/SIGINT shut down gracefully."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from redtask.cli.health import start_health_server
from redtask.logs import JsonFormatter
from redtask.worker.runtime import Worker
from redtask.worker.settings import WorkerSettings, make_transport


def configure(worker: Worker, args: argparse.Namespace, settings: WorkerSettings) -> None:
    """Apply settings then flags (flags win) and pick the transport."""
    worker_id = args.worker_id or settings.worker_id
    if worker_id:
        worker.worker_id = worker_id
    concurrency = args.concurrency or settings.concurrency
    if concurrency:
        worker.concurrency = concurrency
    grace = args.grace if args.grace is not None else settings.grace_s
    if grace is not None:
        worker.grace = grace
    if args.transport:
        settings.transport = args.transport
    if args.url:
        settings.url = args.url
    if args.user:
        settings.username, _, settings.password = args.user.partition(":")
    lanes = getattr(args, "lanes", None)
    if lanes:
        settings.lanes = lanes
    if worker.transport is None or args.transport or args.url or args.redis_url:
        worker.transport = make_transport(settings, args.redis_url)
    elif settings.lanes is not None and hasattr(worker.transport, "max_lanes"):
        worker.transport.max_lanes = settings.lanes  # the module's own direct-Redis transport


def add_serving_flags(parser: argparse.ArgumentParser) -> None:
    """``--metrics-port``, shared by ``redtask worker`` and ``redtask rq-bridge``."""
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve the worker's Prometheus metrics at GET /metrics on this port",
    )


def json_logs() -> None:
    """``--json-logs``: the same as ``redtask --log-format json``."""
    formatter = JsonFormatter()
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)


async def serve(
    worker: Worker, health_port: int | None = None, metrics_port: int | None = None
) -> None:
    """Run ``worker`` with SIGTERM/SIGINT starting a graceful shutdown. With ``health_port``,
    GET /health/live answers 200 from the worker's event loop (a blocked loop fails it); with
    ``metrics_port``, GET /metrics answers the worker's Prometheus metrics."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    servers: list[asyncio.Server] = []
    try:
        if health_port is not None:
            servers.append(await start_health_server(health_port, lambda: True))
        if metrics_port is not None:
            exposition = worker.metrics.exposition
            server = await start_health_server(metrics_port, lambda: True, metrics=exposition)
            servers.append(server)
        await worker.run()
    finally:
        for server in servers:
            server.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
