"""One logging set-up for every redtask process.

``configure_logging(level, fmt)`` installs one handler on the root logger writing to stderr, as
text or as JSON lines (``fmt`` is ``"json"`` or ``"text"``; ``None`` reads ``REDTASK_LOG_FORMAT``,
default text). A JSON line carries ``time`` (ISO-8601 UTC, milliseconds), ``level``, ``logger``,
``message`` and, where the call passed them in ``extra``, the ids in :data:`ID_FIELDS`::

    log.info("task completed", extra={"task_id": task.id, "topic": task.topic_name})

Text lines append the same ids as ``key=value`` pairs. httpx's per-request INFO lines are
silenced: a process reports in its own words.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
ID_FIELDS = (
    "task_id",
    "topic",
    "worker_id",
    "process_instance_id",
    "request_id",
    "scheduler_id",
    "method",
    "path",
    "route",
    "status",
    "duration_ms",
)
# the id of the request being served (set by the gateway's access log); every line logged while
# serving it carries the id
request_id: ContextVar[str | None] = ContextVar("redtask_request_id", default=None)
ENV_VAR = "REDTASK_LOG_FORMAT"


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ids(record: logging.LogRecord) -> dict[str, Any]:
    found = {f: getattr(record, f) for f in ID_FIELDS if getattr(record, f, None) is not None}
    current = request_id.get()
    if current is not None:
        found.setdefault("request_id", current)
    return found


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_ids(record))
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """``TIME LEVEL logger: message key=value ...`` with a UTC ISO-8601 time."""

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{k}={v}" for k, v in _ids(record).items())
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if ids:
            line += f" {ids}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def resolve_format(fmt: str | None) -> str:
    """``fmt``, else ``$REDTASK_LOG_FORMAT``, else text. Raises ValueError for another name."""
    chosen = (fmt or os.environ.get(ENV_VAR) or "text").strip().lower()
    if chosen not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {chosen!r}")
    return chosen


def configure_logging(level: str = "INFO", fmt: str | None = None) -> None:
    """Replace the root logger's handlers with one stderr handler in ``fmt`` at ``level``.

    Raises ValueError for an unknown format (from the argument or the environment)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if resolve_format(fmt) == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
