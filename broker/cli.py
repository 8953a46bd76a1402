"""The ``redtask`` command. Subcommands import what they need lazily (the core never imports
the gateway at import time)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence

from broker.settings import Settings

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


def _run_until_signal(main: Callable[[asyncio.Event], Awaitable[int]]) -> int:
    """Run ``main(stop)`` on a new loop; SIGINT/SIGTERM set ``stop``."""

    async def runner() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await main(stop)

    return asyncio.run(runner())


def cmd_scheduler(args: argparse.Namespace) -> int:
    from broker.errors import BrokerError
    from broker.scheduler import Scheduler
    from broker.store import open_store

    settings = _settings(args)
    _need_redis(settings)

    async def main(stop: asyncio.Event) -> int:
        store = await open_store(settings)
        try:
            scheduler = Scheduler(store, args.id)
            if args.check:
                beat = await store.last_heartbeat(scheduler.id)
                if beat is None:
                    print(f"scheduler {scheduler.id}: no recent heartbeat", file=sys.stderr)
                    return 1
                print(f"scheduler {scheduler.id}: alive (last heartbeat at {beat} ms)")
                return 0
            await scheduler.run(stop)
            return 0
        finally:
            await store.close()

    try:
        return _run_until_signal(main)
    except BrokerError as exc:
        sys.exit(f"redtask scheduler: {exc}")


def cmd_gateway(args: argparse.Namespace) -> int:
    import importlib

    settings = _settings(args)
    _need_redis(settings)
    # imported by name: the core does not depend on the gateway package
    server = importlib.import_module("gateway.server")
    server.serve(settings, args.host, args.port, args.log_level.lower())
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from broker.stack import Stack

    return Stack(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        redis_port=args.redis_port,
        log_level=args.log_level,
    ).run()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="redtask",
        description="Redis-backed, Camunda-7-compatible external-task broker.",
        epilog="Configuration comes from REDTASK_* environment variables "
        "(e.g. REDTASK_REDIS_URL, REDTASK_PARTITIONS, REDTASK_NAMESPACE).",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser(
        "up",
        help="run everything in one process tree: embedded Redis, scheduler and REST gateway",
        description="Start the embedded Redis (unless REDTASK_REDIS_URL is set), the scheduler "
        "and the gateway; the REST API lives at http://HOST:PORT/engine-rest. Ctrl-C stops all. "
        "Data (Redis AOF) is kept in --data-dir across restarts.",
    )
    up.add_argument("--host", default="127.0.0.1", help="gateway bind address (default 127.0.0.1)")
    up.add_argument("--port", type=int, default=8080, help="gateway port (default 8080)")
    up.add_argument(
        "--data-dir",
        default=os.environ.get("REDTASK_DATA_DIR", "redtask-data"),
        help="where the embedded Redis keeps its data (default ./redtask-data)",
    )
    up.add_argument(
        "--redis-port", type=int, default=0, help="embedded Redis port (default: a free one)"
    )
    up.set_defaults(func=cmd_up)

    sch = sub.add_parser(
        "scheduler",
        help="sweep expired locks and due retries back to fetchable",
        description="Run the scheduler against REDTASK_REDIS_URL until SIGTERM. Several may run "
        "at once. With --check, exit 0 if this scheduler's heartbeat is fresh (liveness probe).",
    )
    sch.add_argument("--redis-url", help="Redis URL (default: $REDTASK_REDIS_URL)")
    sch.add_argument("--id", help="scheduler id for the heartbeat (default: the host name)")
    sch.add_argument("--check", action="store_true", help="check the heartbeat and exit")
    sch.set_defaults(func=cmd_scheduler)

    gw = sub.add_parser(
        "gateway",
        help="serve the Camunda 7 REST API",
        description="Serve the Camunda-compatible REST API (uvicorn). Several may run against "
        "one Redis.",
    )
    gw.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    gw.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    gw.add_argument("--redis-url", help="Redis URL (default: $REDTASK_REDIS_URL)")
    gw.set_defaults(func=cmd_gateway)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
