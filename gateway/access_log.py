"""The gateway's access log (``redtask gateway --access-log``): one INFO line per request on the
``redtask.gateway.access`` logger, with its route template, status, duration and a request id.

The id is the client's ``X-Request-Id`` when it is a short token, a new one otherwise; it is
answered in ``X-Request-Id`` and carried by every log line written while the request is served.
"""

from __future__ import annotations

import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from redtask.gateway.metrics import route_template
from redtask.logs import request_id

log = logging.getLogger("redtask.gateway.access")

MAX_ID = 64
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
# path parameters named after the ids a log search filters on, by route prefix
_PARAM_FIELDS = (
    ("/external-task/{id}", "id", "task_id"),
    ("/process-instance/{id}", "id", "process_instance_id"),
    ("/redtask/topics/{topic}", "topic", "topic"),
)


def _client_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if 0 < len(text) <= MAX_ID and _ID_CHARS.issuperset(text):
                return text
            return None
    return None


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _client_id(scope) or uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = route_template(scope)
            extra: dict[str, object] = {
                "method": scope["method"],
                "path": scope["path"],
                "route": route,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            }
            params = scope.get("path_params") or {}
            for marker, param, field in _PARAM_FIELDS:
                if marker in route and param in params:
                    extra[field] = params[param]
            log.info(
                "%s %s %d %.1f ms",
                scope["method"],
                scope["path"],
                status,
                extra["duration_ms"],
                extra=extra,
            )
            request_id.reset(token)
