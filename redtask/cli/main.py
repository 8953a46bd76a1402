"""The ``redtask`` command. Subcommands import what they need lazily (the core never imports
the gateway at import time)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence

from redtask.broker.settings import Settings

log = logging.getLogger("redtask")


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "redis_url", None):
        overrides["redis_url"] = args.redis_url
    return Settings(**overrides)


def _need_redis(settings: Settings) -> None:
    if not settings.redis_url:
        sys.exit(
            "redtask: no Redis configured. Set REDTASK_REDIS_URL (or pass --redis-url), "
            "or run `redtask up`, which starts an embedded Redis."
        )


def unreachable(command: str, settings: Settings, exc: Exception) -> str:
    """The one line a command exits with when Redis cannot be reached at start."""
    where = settings.redis_address()
    return f"redtask {command}: cannot reach Redis at {where} (REDTASK_REDIS_URL): {exc}"


async def _check_reachable(settings: Settings) -> None:
    from redtask.broker.store import open_store

    store = await open_store(settings, wait_s=settings.redis_startup_wait_s)
    await store.close()


def _need_reachable_redis(command: str, settings: Settings) -> None:
    """Exit with one clear line (status 1) when Redis does not answer; the orchestrator (or
    ``redtask up``, which starts Redis first) restarts the process."""
    from redtask.broker.connection import UNREACHABLE_ERRORS
    from redtask.broker.errors import ConfigurationError

    try:
        asyncio.run(_check_reachable(settings))
    except UNREACHABLE_ERRORS as exc:
        sys.exit(unreachable(command, settings, exc))
    except ConfigurationError as exc:  # a malformed URL, an evicting server, another P
        sys.exit(f"redtask {command}: {exc}")


def _run_until_signal(main: Callable[[asyncio.Event], Awaitable[int]]) -> int:
    """Run ``main(stop)`` on a new loop; SIGINT/SIGTERM set ``stop``."""

    async def runner() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await main(stop)

    return asyncio.run(runner())


def _add_log_format(parser: argparse.ArgumentParser) -> None:
    """``--log-format`` after the subcommand too (``redtask gateway --log-format json``); it
    only sets the value that ``main`` configures logging with."""
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=argparse.SUPPRESS,
        help="text, or one JSON object per line (default: $REDTASK_LOG_FORMAT, else text)",
    )


def cmd_scheduler(args: argparse.Namespace) -> int:
    from redtask.broker.errors import BrokerError
    from redtask.broker.scheduler import Scheduler
    from redtask.broker.scheduler_metrics import scheduler_exposition
    from redtask.broker.store import open_store
    from redtask.cli.health import start_health_server

    class TrackedScheduler(Scheduler):
        """Remembers when its last pass succeeded; the pass counts as recent for the lifetime
        of the heartbeat key that ``--check`` reads, so both probes agree on when it is dead."""

        last_pass = float("-inf")

        async def run_once(self) -> bool:
            more = await super().run_once()
            self.last_pass = time.monotonic()
            return more

        def fresh(self) -> bool:
            return time.monotonic() - self.last_pass <= self.heartbeat_ttl_ms / 1000

    settings = _settings(args)
    _need_redis(settings)
    _need_reachable_redis("scheduler", settings)

    async def main(stop: asyncio.Event) -> int:
        store = await open_store(settings, wait_s=settings.redis_startup_wait_s)
        servers = []
        try:
            scheduler = TrackedScheduler(store, args.id)
            if args.check:
                beat = await store.last_heartbeat(scheduler.id)
                if beat is None:
                    print(f"scheduler {scheduler.id}: no recent heartbeat", file=sys.stderr)
                    return 1
                print(f"scheduler {scheduler.id}: alive (last heartbeat at {beat} ms)")
                return 0
            metrics = scheduler_exposition(scheduler)
            if args.metrics_port is not None:
                servers.append(
                    await start_health_server(args.metrics_port, scheduler.fresh, metrics=metrics)
                )
            if args.health_port is not None and args.health_port != args.metrics_port:
                servers.append(await start_health_server(args.health_port, scheduler.fresh))
            await scheduler.run(stop)
            return 0
        finally:
            for server in servers:
                server.close()
            await store.close()

    try:
        return _run_until_signal(main)
    except BrokerError as exc:
        sys.exit(f"redtask scheduler: {exc}")


def cmd_gateway(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _need_redis(settings)
    _need_reachable_redis("gateway", settings)
    # imported by name: the core does not depend on the gateway package
    server = importlib.import_module("redtask.gateway.server")
    host = settings.gateway_host if args.host is None else args.host
    port = settings.gateway_port if args.port is None else args.port
    server.serve(settings, host, port, args.log_level.lower(), args.access_log)
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def cmd_up(args: argparse.Namespace) -> int:
    from redtask.cli.stack import Stack

    settings = Settings()
    return Stack(
        host=settings.gateway_host if args.host is None else args.host,
        port=settings.gateway_port if args.port is None else args.port,
        data_dir=args.data_dir,
        redis_port=args.redis_port,
        log_level=args.log_level,
        fsync=args.fsync,
        cluster=args.cluster,
    ).run()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("redtask")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    from redtask.cli.process import default_url

    parser = argparse.ArgumentParser(
        prog="redtask",
        description="Redis-backed, Camunda-7-compatible external-task broker.",
        epilog="Configuration comes from REDTASK_* environment variables "
        "(e.g. REDTASK_REDIS_URL, REDTASK_PARTITIONS, REDTASK_NAMESPACE).",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    parser.add_argument("--version", action="version", version=f"redtask {_version()}")
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="text, or one JSON object per line (default: $REDTASK_LOG_FORMAT, else text)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser(
        "up",
        help="run everything in one process tree: embedded Redis, scheduler and REST gateway",
        description="Start the embedded Redis (unless REDTASK_REDIS_URL is set), the scheduler "
        "and the gateway; the REST API lives at http://HOST:PORT/engine-rest. Ctrl-C stops all. "
        "Data (Redis AOF) is kept in --data-dir across restarts.",
    )
    up.add_argument(
        "--host", help="gateway bind address (default $REDTASK_GATEWAY_HOST, else 127.0.0.1)"
    )
    up.add_argument(
        "--port", type=int, help="gateway port (default $REDTASK_GATEWAY_PORT, else 8080)"
    )
    up.add_argument(
        "--data-dir",
        default=os.environ.get("REDTASK_DATA_DIR", "redtask-data"),
        help="where the embedded Redis keeps its data (default ./redtask-data)",
    )
    up.add_argument(
        "--redis-port", type=int, default=0, help="embedded Redis port (default: a free one)"
    )
    up.add_argument(
        "--fsync",
        choices=["everysec", "always"],
        default="everysec",
        help="the embedded Redis's appendfsync: everysec (default) may lose the last second of "
        "writes if the machine fails; always fsyncs each write before answering (slower)",
    )
    up.add_argument(
        "--cluster",
        type=_positive,
        default=0,
        metavar="M",
        help="embed a Redis Cluster of M masters instead of one Redis (AOF in "
        "DATA_DIR/cluster; nodes on --redis-port and the M-1 ports above it, else free ones, "
        "kept across restarts); REDTASK_PARTITIONS defaults to 2 x M",
    )
    up.set_defaults(func=cmd_up)

    sch = sub.add_parser(
        "scheduler",
        help="sweep expired locks and due retries back to fetchable",
        description="Run the scheduler against REDTASK_REDIS_URL until SIGTERM. Several may run "
        "at once. With --check, exit 0 if this scheduler's heartbeat is fresh. With "
        "--health-port, GET /health/live (and /health/ready) answers 200 while the last pass "
        "succeeded within the heartbeat's lifetime, 503 otherwise (the probe for Kubernetes).",
    )
    sch.add_argument("--redis-url", help="Redis URL (default: $REDTASK_REDIS_URL)")
    sch.add_argument("--id", help="scheduler id for the heartbeat (default: the host name)")
    sch.add_argument("--check", action="store_true", help="check the heartbeat and exit")
    sch.add_argument(
        "--health-port", type=int, metavar="PORT", help="serve GET /health/live on this port"
    )
    sch.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve the scheduler's Prometheus metrics at GET /metrics on this port "
        "(it answers the health paths too; may equal --health-port)",
    )
    _add_log_format(sch)
    sch.set_defaults(func=cmd_scheduler)

    gw = sub.add_parser(
        "gateway",
        help="serve the Camunda 7 REST API",
        description="Serve the Camunda-compatible REST API (uvicorn). Several may run against "
        "one Redis.",
    )
    gw.add_argument("--host", help="bind address (default $REDTASK_GATEWAY_HOST, else 127.0.0.1)")
    gw.add_argument("--port", type=int, help="port (default $REDTASK_GATEWAY_PORT, else 8080)")
    gw.add_argument("--redis-url", help="Redis URL (default: $REDTASK_REDIS_URL)")
    _add_log_format(gw)
    gw.add_argument(
        "--access-log",
        action="store_true",
        help="log every request (route, status, duration, request id from X-Request-Id)",
    )
    gw.set_defaults(func=cmd_gateway)

    dep = sub.add_parser(
        "deploy",
        help="deploy BPMN files to a running gateway",
        description="Upload FILEs as one deployment (POST /deployment/create) and print the "
        "deployment id and the process definitions created. Exits 1 with the reasons when the "
        "gateway refuses the deployment or cannot be reached.",
    )
    dep.add_argument("files", nargs="+", metavar="FILE", help="resources, e.g. order.bpmn")
    dep.add_argument(
        "--url",
        default=default_url(),
        help="the REST API root (default: the gateway of REDTASK_GATEWAY_HOST/PORT, else "
        "http://127.0.0.1:8080/engine-rest)",
    )
    dep.add_argument("--name", help="deployment name (needed for duplicate filtering)")
    dep.add_argument("--source", help="deployment source")
    dep.add_argument("--tenant-id", help="deploy for this tenant")
    dep.add_argument(
        "--duplicate-filtering",
        action="store_true",
        help="create nothing if no resource changed since the last deployment of this name",
    )
    dep.add_argument(
        "--changed-only", action="store_true", help="deploy only the resources that changed"
    )
    dep.add_argument("--user", help="USER:PASSWORD for HTTP Basic authentication")
    dep.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    from redtask.cli.deploy import cmd_deploy

    dep.set_defaults(func=cmd_deploy)

    from redtask.cli.process import add_process_commands  # start, instances

    add_process_commands(sub)
    from redtask.cli.ops import add_ops_commands  # topics, tasks, incidents, cancel

    add_ops_commands(sub)
    from redtask.cli.completion import add_completion_command

    add_completion_command(sub, parser)
    from redtask.cli.rq import add_rq_bridge_command
    from redtask.cli.worker import add_worker_commands

    add_worker_commands(sub)
    add_rq_bridge_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from redtask.logs import configure_logging

    args = build_parser().parse_args(argv)
    try:
        configure_logging(args.log_level, args.log_format)
    except ValueError as exc:  # REDTASK_LOG_FORMAT names no format
        sys.exit(f"redtask: {exc}")
    code: int = args.func(args)
    return code
