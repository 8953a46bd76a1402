"""Request body limit: a body over the configured size gets a Camunda-shaped 400."""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, send: Send) -> None:
        body = orjson.dumps(
            {
                "type": "InvalidRequestException",
                "message": f"The request body exceeds the limit of {self.max_bytes} bytes "
                "(REDTASK_GATEWAY_MAX_BODY_BYTES)",
                "code": None,
            }
        )
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit():
            # the server enforces Content-Length framing: the header is the body size
            if int(length) > self.max_bytes:
                await self._reject(send)
            else:
                await self.app(scope, receive, send)
            return
        # chunked (no Content-Length): read the body up to the limit, then replay it
        buffered: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                await self._reject(send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)


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
