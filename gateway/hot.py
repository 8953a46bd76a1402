"""The hot path: ``POST …/external-task/fetchAndLock`` and ``POST …/external-task/{id}/complete``
answered without FastAPI's layers (routing through every route, dependency solving, the
middleware chain), which cost several times what the work itself costs.

The hot path serves only the plain case and hands everything else, unchanged, to the full
application: it reads the body, and if it is larger than the body limit, not JSON for orjson,
suspicious to the body guard (lone surrogates, deep nesting), sent with another content type,
refused by the DTO, unauthenticated, or if the access log is on, the request goes through the
full stack with its body replayed, so every error body stays the one the routes and guards give.
On the plain path it does what the routes do (the same functions: ``locked_tasks`` and
``complete_task`` in routes/external_task.py), renders errors through the app's registered
exception handlers, and counts the request in the same metrics under the same route template.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from redtask.gateway.dto.external_task import CompleteExternalTaskDto, FetchExternalTasksDto
from redtask.gateway.limits import declared_too_large, malformed_json
from redtask.gateway.routes import external_task

ASGI = Callable[[Scope, Receive, Send], Awaitable[None]]
JSON_TYPES = frozenset({b"application/json", b"application/json;charset=utf-8"})
_FETCH = "/external-task/fetchAndLock"
_TASK = "/external-task/"
_COMPLETE = "/complete"
_NO_CONTENT_START: Message = {"type": "http.response.start", "status": 204, "headers": []}
_NO_CONTENT_BODY: Message = {"type": "http.response.body", "body": b""}


class _Route:
    """What a hot route's metrics and error answers need of FastAPI's matched route."""

    __slots__ = ("endpoint", "path")

    def __init__(self, path: str, endpoint: Callable[..., Any]) -> None:
        self.path = path  # the template, as metrics.route_template reads it
        self.endpoint = endpoint


class HotRoutes:
    def __init__(
        self,
        app: FastAPI,
        root: str,
        max_body_bytes: int,
        authenticated: Callable[[Scope], str | None] | None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.authenticated = authenticated
        self.prefixes = (root, root + "/engine/default")
        self.fetch_routes = {
            p + _FETCH: _Route(p + _FETCH, external_task.fetch_and_lock) for p in self.prefixes
        }
        # (route template, status) -> its request counter and duration histogram
        self._counted: dict[tuple[str, int], tuple[Any, Any]] = {}
        self.complete_routes = {
            p: _Route(p + _TASK + "{id}" + _COMPLETE, external_task.complete) for p in self.prefixes
        }

    def match(self, scope: Scope) -> tuple[_Route, str | None] | None:
        """The hot route of a request (with the task id of a complete), else None."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        path: str = scope["path"]
        route = self.fetch_routes.get(path)
        if route is not None:
            return route, None
        if not path.endswith(_COMPLETE):
            return None
        for prefix, route in self.complete_routes.items():
            start = len(prefix) + len(_TASK)
            task_id = path[start : -len(_COMPLETE)]
            if path.startswith(prefix + _TASK) and task_id and "/" not in task_id:
                return route, task_id
        return None

    async def serve(
        self, route: _Route, task_id: str | None, scope: Scope, receive: Receive, send: Send
    ) -> None:
        started = time.perf_counter()
        body, replay = await self._read_body(scope, receive)
        dto = None if body is None else self._dto(scope, body, task_id is None)
        if dto is None:
            await self._full(scope, replay, send)
            return
        scope["app"] = self.app
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        state = self.app.state
        status = 200
        try:
            if task_id is None:
                answer = await external_task.locked_tasks(
                    dto,
                    Request(scope, receive),
                    state.store,
                    state.hub,
                    state.settings,
                    state.timezone,
                )
                content = orjson.dumps(answer)
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-length", str(len(content)).encode()),
                            (b"content-type", b"application/json"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": content})
            else:
                await external_task.complete_task(task_id, dto, state.store)
                status = 204
                await send(_NO_CONTENT_START)
                await send(_NO_CONTENT_BODY)
        except Exception as exc:
            status = 500
            handler = self._handler(exc)
            if handler is None:
                raise
            response = await handler(Request(scope, receive), exc)
            status = response.status_code
            await response(scope, receive, send)
        finally:
            counted = self._counted.get((route.path, status))
            if counted is None:
                metrics = state.metrics
                counted = self._counted[route.path, status] = (
                    metrics.requests.labels(route.path, "POST", str(status)),
                    metrics.duration.labels(route.path, "POST"),
                )
            counted[0].inc()
            counted[1].observe(time.perf_counter() - started)

    async def _full(self, scope: Scope, replay: Receive, send: Send) -> None:
        await FastAPI.__call__(self.app, scope, replay, send)

    async def _read_body(self, scope: Scope, receive: Receive) -> tuple[bytes | None, Receive]:
        """The request body (None: not one for the hot path) and a receive that replays it."""
        buffered: list[Message] = []

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        length = None
        json_type = False  # FastAPI reads a body without a content type as no JSON at all
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"content-type":
                json_type = value.lower().replace(b" ", b"") in JSON_TYPES
                if not json_type:
                    return None, receive
        if not json_type:
            return None, receive
        if length is not None and (
            not length.isdigit() or declared_too_large(length, self.max_body_bytes)
        ):
            return None, receive
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                return None, replay
            chunk = message.get("body", b"")
            chunks.append(chunk)
            seen += len(chunk)
            if seen > self.max_body_bytes:
                return None, replay
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return (body if body else None), replay

    def _dto(self, scope: Scope, body: bytes, fetch: bool) -> Any:
        """The request's DTO, or None when the full stack must answer it."""
        if self.authenticated is not None:
            auths = [v for n, v in scope["headers"] if n == b"authorization"]
            if len(auths) != 1:
                return None
            user = self.authenticated(scope)
            if user is None:
                return None
            scope.setdefault("state", {})["user"] = user
        if malformed_json(body):
            return None
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(value, dict):
            return None
        kind = FetchExternalTasksDto if fetch else CompleteExternalTaskDto
        try:
            return kind.model_validate(value)
        except ValidationError:
            return None

    def _handler(self, exc: Exception) -> Callable[[Request, Exception], Awaitable[Any]] | None:
        handlers = self.app.exception_handlers
        for kind in type(exc).__mro__:
            if kind in handlers:
                return handlers[kind]  # type: ignore[return-value]
        return None


class Gateway(FastAPI):
    """The gateway's FastAPI app: its hot routes (``hot``, set by create_app) answer first."""

    hot: HotRoutes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hot = self.hot
        matched = None if hot is None else hot.match(scope)
        if matched is None:
            await super().__call__(scope, receive, send)
            return
        await hot.serve(matched[0], matched[1], scope, receive, send)  # type: ignore[union-attr]
