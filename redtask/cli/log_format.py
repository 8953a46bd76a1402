"""Log output of the gateway and the scheduler: ``text`` lines for people or ``json`` lines for
log pipelines (``--log-format``, ``REDTASK_LOG_FORMAT``).

A JSON line carries an ISO-8601 UTC timestamp, the level, the logger, the message and, where
known, the ids a log search filters on (task, topic, worker, process instance, request,
scheduler), given by the call's ``extra`` or, for the request id, by the request being served.
"""

from __future__ import annotations

import json
import logging
import os
from contextvars import ContextVar
from datetime import UTC, datetime

FORMATS = ("text", "json")
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# attributes a log call may pass in ``extra`` that JSON lines carry
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
# the id of the request being served (set by the gateway's access log)
request_id: ContextVar[str | None] = ContextVar("redtask_request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = request_id.get()
        if current is not None:
            line["request_id"] = current
        for field in ID_FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                line[field] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def default_format() -> str:
    value = os.environ.get("REDTASK_LOG_FORMAT", "text").lower()
    return value if value in FORMATS else "text"


def configure_logging(level: str, fmt: str) -> None:
    """Send every logger's records to stderr as ``fmt`` lines (replacing earlier set-up)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
