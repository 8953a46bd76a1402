"""``redtask rq-bridge TOPIC FUNC``: serve a topic with an RQ worker fleet until SIGTERM.

Exit codes: 0 after a clean shutdown, 2 for bad arguments, 1 on any other error.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from redtask.cli.serving import add_serving_flags, configure, json_logs, serve
from redtask.worker.backoff import Backoff
from redtask.worker.settings import WorkerSettings

log = logging.getLogger("redtask.rq_bridge")


def cmd_rq_bridge(args: argparse.Namespace) -> int:
    import redis  # not imported by the other redtask commands

    from redtask.worker.rq_bridge import JobOptions, rq_bridge

    if args.json_logs:
        json_logs()
    try:
        settings = WorkerSettings()
        worker = rq_bridge(
            args.topic,
            args.function,
            queue=args.queue,
            # bounded waits: a hung Redis is retried like an unreachable one
            connection=redis.Redis.from_url(
                args.rq_redis_url, socket_connect_timeout=5, socket_timeout=30
            ),
            serializer=args.serializer,
            options=JobOptions(args.job_timeout, args.result_ttl, args.failure_ttl),
            poll_interval=args.poll_interval,
            cleanup_interval=args.cleanup_interval,
            variables=args.variables,
            lock_duration=args.lock_duration,
            retries=args.retries,
            backoff=Backoff(initial_ms=args.backoff, max_ms=args.backoff_max),
        )
        configure(worker, args, settings)
    except (ValueError, ImportError, NotImplementedError) as exc:
        # ImportError / NotImplementedError: rq cannot resolve the --serializer path
        print(f"redtask rq-bridge: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(worker, metrics_port=args.metrics_port))
    except Exception:
        log.exception("rq bridge %s failed", worker.worker_id)
        return 1
    return 0


def add_rq_bridge_command(sub: Any) -> None:
    p = sub.add_parser(
        "rq-bridge",
        help="serve a topic with an RQ worker fleet: each task becomes an RQ job",
        description="Fetch and lock the tasks of TOPIC and enqueue each as an RQ job (job id = "
        "task id) calling FUNC with the task's variables as keyword arguments; plain `rq worker` "
        "processes run them. Locks are extended while a job is queued or running. A job's "
        "return value completes the task (a dict: those variables; None: none; anything "
        'else: {"result": value}); a failed job reports a failure with the traceback, a '
        'stopped, deleted or abandoned job the failure "RQ job lost"; both are retried '
        "--retries times with exponential backoff, then raise an incident. SIGTERM unlocks "
        "tasks still waiting after --grace and exits 0; their jobs keep running, and the "
        "next delivery of a task attaches to its job. Transport settings come from "
        "REDTASK_WORKER_* as for `redtask worker`; flags override them.",
    )
    p.add_argument("topic", metavar="TOPIC", help="the topic to serve")
    p.add_argument("function", metavar="FUNC", help="dotted path of the job function: app.jobs.f")
    p.add_argument("--queue", required=True, help="the RQ queue to enqueue jobs on")
    p.add_argument("--rq-redis-url", required=True, help="RQ's Redis, e.g. redis://host:6379/0")
    p.add_argument("--serializer", help="RQ job serializer: pickle (default), json, or a path")
    p.add_argument("--transport", choices=["rest", "redis"], help="default: rest")
    p.add_argument("--url", help="REST API root (default http://127.0.0.1:8080/engine-rest)")
    p.add_argument("--user", help="USER:PASSWORD for HTTP Basic authentication (REST)")
    p.add_argument("--redis-url", help="redtask's Redis for --transport redis")
    p.add_argument(
        "--concurrency", type=_positive_int, help="tasks outstanding in RQ at once (default 100)"
    )
    p.add_argument("--lock-duration", type=_positive_int, default=30_000, help="ms (default 30000)")
    p.add_argument(
        "--variables",
        type=_names,
        help="comma-separated variables to fetch and pass (default: all)",
    )
    p.add_argument(
        "--retries", type=_non_negative_int, default=3, help="retries after a failure (default 3)"
    )
    p.add_argument(
        "--backoff", type=_non_negative_int, default=1_000, help="first retry delay, ms (1000)"
    )
    p.add_argument(
        "--backoff-max", type=_non_negative_int, default=300_000, help="retry delay cap, ms"
    )
    p.add_argument(
        "--job-timeout", type=int, default=180, help="seconds one job may run; -1: none (180)"
    )
    p.add_argument("--result-ttl", type=_positive_int, default=500, help="keep results, s (500)")
    p.add_argument(
        "--failure-ttl", type=_positive_int, default=86_400, help="keep failed jobs, s (86400)"
    )
    p.add_argument(
        "--poll-interval", type=_positive_float, default=0.2, help="job status poll, s (0.2)"
    )
    p.add_argument(
        "--cleanup-interval",
        type=_positive_float,
        default=60.0,
        help="seconds between sweeps for jobs abandoned by dead RQ workers (60)",
    )
    p.add_argument("--worker-id", help="worker id (default: hostname-pid)")
    p.add_argument(
        "--grace", type=float, help="seconds to wait for jobs on shutdown before unlocking (5)"
    )
    p.add_argument("--json-logs", action="store_true", help="log one JSON object per line")
    add_serving_flags(p)
    p.set_defaults(func=cmd_rq_bridge)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be at least 0")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("needs at least one variable name")
    return names
