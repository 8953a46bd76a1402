"""Operator commands against a running gateway: ``redtask topics`` (the depth table, ``--watch``),
``redtask tasks`` (a query), ``redtask incidents`` (list, and ``--retry`` one, a topic's or all),
``redtask cancel INSTANCE``. Tables for people, ``--json`` for scripts.

Exit codes: 0 done, 1 the gateway refused, cannot be reached or the confirmation was declined,
2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from redtask.cli.process import _client_options, _request, _text

TOPIC_COLUMNS = ("topicName", "available", "locked", "retrying", "incidents")
TASK_COLUMNS = ("id", "topicName", "workerId", "retries", "lockExpirationTime", "processInstanceId")
INCIDENT_FIELDS = ("id", "incidentType", "processInstanceId", "activityId", "incidentMessage")
HEADERS = {
    "topicName": "TOPIC",
    "available": "AVAILABLE",
    "locked": "LOCKED",
    "retrying": "RETRYING",
    "incidents": "INCIDENTS",
    "id": "ID",
    "workerId": "WORKER",
    "retries": "RETRIES",
    "lockExpirationTime": "LOCKED UNTIL",
    "processInstanceId": "INSTANCE",
}


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Left-aligned columns under upper-case headers, two spaces apart ('-' for no value)."""
    cells = [[HEADERS[c] for c in columns]]
    cells += [[_text(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        + "\n"
        for line in cells
    )


def _emit(args: argparse.Namespace, rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        sys.stdout.write(table(rows, columns))


def _outside_engine_rest(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with the URL of the gateway's root: redtask's own API lives beside
    /engine-rest, not under it."""
    root = args.url.rstrip("/")
    root = root.removesuffix("/engine-rest")
    return argparse.Namespace(**{**vars(args), "url": root})


def cmd_topics(args: argparse.Namespace) -> int:
    root = _outside_engine_rest(args)
    if not args.watch:
        _emit(args, _request(root, "GET", "/redtask/topics"), TOPIC_COLUMNS)
        return 0
    try:  # Ctrl-C ends the watch, whether it is waiting or drawing
        while True:
            rows = _request(root, "GET", "/redtask/topics")
            if not args.json:
                sys.stdout.write("\x1b[H\x1b[2J")  # clear the terminal for the next frame
            _emit(args, rows, TOPIC_COLUMNS)
            sys.stdout.flush()
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    query: dict[str, Any] = {}
    for field, value in (
        ("topicName", args.topic),
        ("workerId", args.worker),
        ("processInstanceId", args.instance),
        ("processDefinitionKey", args.key),
    ):
        if value is not None:
            query[field] = value
    if args.state == "locked":
        query["locked"] = True
    elif args.state == "available":
        query["notLocked"] = True
        query["withRetriesLeft"] = True
    elif args.state == "incident":
        query["noRetriesLeft"] = True
    params = {"firstResult": 0, "maxResults": args.max}
    rows = _request(args, "POST", "/external-task", json=query, params=params)
    _emit(args, rows, TASK_COLUMNS)
    return 0


def cmd_incidents(args: argparse.Namespace) -> int:
    if args.retry is None and args.topic is None and not args.all:
        rows = _request(args, "GET", "/incident")
        if args.json:
            print(json.dumps(rows, indent=2))
        for item in [] if args.json else rows:
            print("  ".join(_text(item.get(field)) for field in INCIDENT_FIELDS))
        return 0
    if args.retry is not None:
        ids = [_task_of(args, args.retry)]
    else:
        query = {"noRetriesLeft": True, **({"topicName": args.topic} if args.topic else {})}
        ids = [t["id"] for t in _request(args, "POST", "/external-task", json=query)]
        if not ids:
            print("no tasks with incidents")
            return 0
        if not args.yes and not _confirm(f"Set retries to {args.retries} on {len(ids)} tasks?"):
            print("redtask incidents: not confirmed; nothing changed", file=sys.stderr)
            return 1
    body = {"externalTaskIds": ids, "retries": args.retries}
    _request(args, "PUT", "/external-task/retries", json=body)
    if args.json:
        print(json.dumps({"retried": ids, "retries": args.retries}))
    else:
        print(f"retries set to {args.retries} on {len(ids)} tasks")
    return 0


def _task_of(args: argparse.Namespace, incident_or_task: str) -> str:
    """The external task of incident ``incident_or_task``, or that id itself if no incident
    has it (a task id)."""
    found = _request(args, "GET", "/incident", params={"incidentId": incident_or_task})
    if found and found[0].get("configuration"):
        return str(found[0]["configuration"])
    return incident_or_task


def _confirm(question: str) -> bool:
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:  # no terminal: never a yes
        return False
    return answer.strip().lower() in ("y", "yes")


def cmd_cancel(args: argparse.Namespace) -> int:
    params = {"skipCustomListeners": "false"}
    if args.reason:
        params["deleteReason"] = args.reason
    _request(args, "DELETE", f"/process-instance/{args.instance}", params=params)
    print(f"cancelled {args.instance}")
    return 0


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the gateway's JSON")


def add_ops_commands(sub: Any) -> None:
    """Register topics, tasks, incidents and cancel on ``build_parser``'s subparsers."""
    topics = sub.add_parser(
        "topics",
        help="per topic: tasks available, locked, retrying and with incidents",
        description="GET /redtask/topics as a table (TOPIC AVAILABLE LOCKED RETRYING "
        "INCIDENTS). With --watch, redraw every --interval seconds until Ctrl-C.",
    )
    topics.add_argument("--watch", action="store_true", help="redraw until Ctrl-C")
    topics.add_argument("--interval", type=float, default=2.0, help="seconds (default 2)")
    _json_flag(topics)
    _client_options(topics)
    topics.set_defaults(func=cmd_topics)

    tasks = sub.add_parser(
        "tasks",
        help="query external tasks",
        description="POST /external-task with the filters given, as a table (ID TOPIC WORKER "
        "RETRIES LOCKED UNTIL INSTANCE).",
    )
    tasks.add_argument("--topic", help="topic name")
    tasks.add_argument("--worker", help="worker id holding the lock")
    tasks.add_argument("--instance", help="process instance id")
    tasks.add_argument("--key", help="process definition key")
    tasks.add_argument(
        "--state",
        choices=["locked", "available", "incident"],
        help="locked; available (not locked, retries left); incident (no retries left)",
    )
    tasks.add_argument("--max", type=int, default=100, help="at most this many (default 100)")
    _json_flag(tasks)
    _client_options(tasks)
    tasks.set_defaults(func=cmd_tasks)

    incidents = sub.add_parser(
        "incidents",
        help="list open incidents, or retry them",
        description="Without options: GET /incident, one line per incident: id, type, process "
        "instance id, activity id, message ('-' when none). --retry ID (an incident or task "
        "id), --topic T or --all set the retries of those tasks (PUT /external-task/retries) "
        "so they are fetched again; --topic and --all ask for confirmation unless --yes.",
    )
    which = incidents.add_mutually_exclusive_group()
    which.add_argument("--retry", metavar="ID", help="retry this incident (or external task)")
    which.add_argument("--topic", help="retry every task of this topic without retries left")
    which.add_argument("--all", action="store_true", help="retry every task without retries")
    incidents.add_argument("--retries", type=int, default=1, help="retries to set (default 1)")
    incidents.add_argument("--yes", "-y", action="store_true", help="do not ask")
    _json_flag(incidents)
    _client_options(incidents)
    incidents.set_defaults(func=cmd_incidents)

    cancel = sub.add_parser(
        "cancel",
        help="cancel a process instance",
        description="DELETE /process-instance/INSTANCE: the instance ends and its tasks go.",
    )
    cancel.add_argument("instance", metavar="INSTANCE", help="process instance id")
    cancel.add_argument("--reason", help="delete reason, kept in the history")
    _client_options(cancel)
    cancel.set_defaults(func=cmd_cancel)
