"""``redtask worker module:attr``: run a worker fleet member until SIGTERM.

Exit codes: 0 after a clean shutdown, 2 when the target cannot be loaded, 1 on any other error.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
import threading
import time
from typing import Any

from redtask.cli.serving import add_serving_flags, configure, json_logs, serve
from redtask.worker.router import Router
from redtask.worker.runtime import Worker
from redtask.worker.settings import WorkerSettings

log = logging.getLogger("redtask.worker")


class TargetError(Exception):
    """The ``module:attr`` argument does not name a worker."""


def load_worker(target: str) -> Worker:
    """Import ``module:attr`` (attr defaults to ``worker``); a Router is wrapped in a Worker."""
    module_name, _, attr = target.partition(":")
    if not module_name:
        raise TargetError(f"{target!r} is not of the form module:attribute")
    if "" not in sys.path:  # like `python -m`: modules of the working directory load
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TargetError(f"cannot import {module_name!r}: {exc}") from exc
    name = attr or "worker"
    try:
        obj: Any = getattr(module, name)
    except AttributeError:
        raise TargetError(f"module {module_name!r} has no attribute {name!r}") from None
    if isinstance(obj, Worker):
        return obj
    if isinstance(obj, Router):
        worker = Worker()
        worker.include_router(obj)
        return worker
    raise TargetError(f"{target} is a {type(obj).__name__}, not a redtask Worker or Router")


def cmd_worker(args: argparse.Namespace) -> int:
    if args.json_logs:
        json_logs()
    try:
        settings = WorkerSettings()
        worker = load_worker(args.target)
        configure(worker, args, settings)
    except TargetError as exc:
        print(f"redtask worker: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # bad settings from the environment
        print(f"redtask worker: {exc}", file=sys.stderr)
        return 2
    code = 0
    try:
        asyncio.run(serve(worker, args.health_port, args.metrics_port))
    except Exception:
        log.exception("worker %s failed", worker.worker_id)
        code = 1
    alive = _handler_threads_alive()
    if alive:
        # sync handlers past the grace period cannot be interrupted, and the interpreter would
        # wait for them at exit; their tasks are already unlocked, so leave now
        log.info("abandoning %d handler threads still running", alive)
        logging.shutdown()
        os._exit(code)
    return code


def _handler_threads_alive(settle_s: float = 0.5) -> int:
    """Handler threads still running once idle pool threads have had ``settle_s`` to exit (a
    pool shut down without waiting lets its idle threads go only a moment later)."""
    deadline = time.monotonic() + settle_s
    threads = [t for t in threading.enumerate() if t.name.startswith("redtask-handler")]
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return sum(1 for t in threads if t.is_alive())


def add_worker_commands(sub: Any) -> None:
    p = sub.add_parser(
        "worker",
        help="run a worker: the handlers registered on module:attr",
        description="Fetch and run tasks for the handlers of a redtask Worker (or Router) until "
        "SIGTERM, then finish in-flight tasks within the grace period, unlock the rest and exit "
        "0. Settings come from REDTASK_WORKER_* (transport, url, username, password, worker_id, "
        "concurrency, grace_s, lanes); flags override them. Exit 2: the target cannot be loaded.",
    )
    p.add_argument("target", help="module:attribute of the Worker, e.g. examples.orders:worker")
    p.add_argument("--transport", choices=["rest", "redis"], help="default: rest")
    p.add_argument("--url", help="REST API root (default http://127.0.0.1:8080/engine-rest)")
    p.add_argument("--user", help="USER:PASSWORD for HTTP Basic authentication (REST)")
    p.add_argument("--redis-url", help="Redis URL for --transport redis ($REDTASK_REDIS_URL)")
    p.add_argument("--concurrency", type=_positive, help="tasks in flight at once (default 8)")
    p.add_argument(
        "--lanes",
        type=_positive,
        help="most poll lanes the concurrency is shared among, --transport redis (default 2; "
        "one is used while the worker waits for busy CPUs)",
    )
    p.add_argument("--worker-id", help="worker id (default: hostname-pid)")
    p.add_argument("--grace", type=float, help="seconds to finish in-flight tasks (default 30)")
    p.add_argument("--json-logs", action="store_true", help="log one JSON object per line")
    p.add_argument(
        "--health-port",
        type=int,
        metavar="PORT",
        help="serve GET /health/live on this port (answered by the worker's event loop)",
    )
    add_serving_flags(p)
    p.set_defaults(func=cmd_worker)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
