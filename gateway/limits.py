"""Request guards answering before any route: the body's size and encoding, the engine name."""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A lone UTF-16 surrogate can reach a JSON text only as a ``\uD800``-``\uDFFF`` escape or as
# the bytes ED A0..BF (which Python's json decodes with "surrogatepass"): a body holding neither
# cannot decode to one, and the few that do are decided by orjson, which refuses lone ones.
_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")

MAX_JSON_DEPTH = 100
"""Deepest nesting of objects and arrays a JSON body may have: no DTO needs more, and deeper
values would hit the recursion limits of orjson (254) and Python when stored or compared."""


def declared_too_large(length: bytes, max_bytes: int) -> bool:
    """Whether a ``Content-Length`` of digits declares more than ``max_bytes`` (read by its
    number of digits first: Python refuses to convert more than 4,300 of them)."""
    if not length.isdigit():
        return False
    digits = length.lstrip(b"0") or b"0"
    return len(digits) > len(str(max_bytes)) or int(digits) > max_bytes


def _json_body(scope: Scope) -> bool:
    content_type = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip()
    return not content_type or content_type.endswith(b"json")


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in item)
    return False


def malformed_json(body: bytes) -> bool:
    """Whether a JSON body is one redtask refuses as malformed: not JSON to orjson, holding a
    lone surrogate, or nested deeper than MAX_JSON_DEPTH. Most bodies are cleared by two scans
    for the bytes that could make them so."""
    suspicious = _SURROGATE_HINT.search(body) is not None
    deep = body.count(b"{") + body.count(b"[") > MAX_JSON_DEPTH
    if not (suspicious or deep):
        return False
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return True
    return deep and _deeper_than(value, MAX_JSON_DEPTH)


class BodyGuard:
    """Reads the request body (at most ``max_bytes``) before any route sees it: a larger body
    gets a 400 naming the limit, and a JSON body holding a lone UTF-16 surrogate (``"\\ud800"``,
    which no store, script or client can encode) or nested deeper than MAX_JSON_DEPTH gets
    Jackson's 400 for malformed JSON."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        # the server enforces Content-Length framing: the header is the body size
        if length is not None and declared_too_large(length, self.max_bytes):
            await _refuse(
                send,
                f"The request body exceeds the limit of {self.max_bytes} bytes "
                "(REDTASK_GATEWAY_MAX_BODY_BYTES)",
            )
            return
        # read the body up to the limit (chunked ones too), then replay it
        buffered: list[Message] = []
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            chunks.append(chunk)
            seen += len(chunk)
            if seen > self.max_bytes:
                await _refuse(
                    send,
                    f"The request body exceeds the limit of {self.max_bytes} "
                    "bytes (REDTASK_GATEWAY_MAX_BODY_BYTES)",
                )
                return
            if not message.get("more_body", False):
                break
        if seen and _json_body(scope) and malformed_json(b"".join(chunks)):
            await _refuse(send, "")
            return

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, message: str) -> None:
    body = orjson.dumps({"type": "InvalidRequestException", "message": message, "code": None})
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class EngineGuard:
    """Requests for a process engine other than ``default``: Camunda's answers.

    Without auth the resource answers 400 "No process engine available"; with auth on, the
    authentication filter resolves the engine first and answers 404.
    """

    def __init__(self, app: ASGIApp, root: str, auth_enabled: bool) -> None:
        self.app = app
        self.prefix = root + "/engine/"
        self.auth_enabled = auth_enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        name, slash, _ = path[len(self.prefix) :].partition("/")
        if not path.startswith(self.prefix) or not slash or name in ("", "default"):
            await self.app(scope, receive, send)
            return
        if self.auth_enabled:
            status, message = 404, f"Process engine {name} not available"
        else:
            status, message = 400, "No process engine available"
        body = orjson.dumps({"type": "InvalidRequestException", "message": message, "code": None})
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
