"""HTTP Basic authentication as Camunda's ProcessEngineAuthenticationFilter does it.

Off by default. Only ``GET {root}/engine`` is anonymous (and the API's documentation with
``REDTASK_AUTH_OPEN_DOCS``); a failure answers 401 with ``WWW-Authenticate: Basic
realm="default"`` and an empty body. A request with two ``Authorization`` headers is refused
with a 400: which one counts would depend on the proxy or server in front.
"""

from __future__ import annotations

import base64
import binascii
import hmac

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from redtask.broker.settings import Settings

DOCS = ("/openapi.json", "/docs", "/redoc")
"""The paths of the generated API documentation (FastAPI's)."""

TWO_HEADERS = orjson.dumps(
    {
        "type": "InvalidRequestException",
        "message": "A request may carry only one Authorization header",
        "code": None,
    }
)


def load_users(settings: Settings) -> dict[str, str]:
    lines = [p for p in settings.auth_users.split(",") if p.strip()]
    if settings.auth_users_file is not None:
        lines += [
            line for line in settings.auth_users_file.read_text().splitlines() if line.strip()
        ]
    users = {}
    for line in lines:
        user, sep, password = line.strip().partition(":")
        if not sep or not user:
            raise ValueError("auth users must be given as user:password")
        users[user] = password
    return users


class BasicAuth:
    def __init__(self, app: ASGIApp, users: dict[str, str], protected: tuple[str, ...], root: str):
        self.app = app
        self.users = users
        self.protected = protected
        self.anonymous = {root + "/engine", root + "/engine/"}

    def authenticated(self, scope: Scope) -> str | None:
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        if not header.startswith("Basic "):
            return None
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        expected = self.users.get(user)
        if not sep or expected is None:
            return None
        return user if hmac.compare_digest(expected.encode(), password.encode()) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if sum(name == b"authorization" for name, _ in scope["headers"]) > 1:
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(TWO_HEADERS)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": TWO_HEADERS})
            return
        if path in self.anonymous or not path.startswith(self.protected):
            await self.app(scope, receive, send)
            return
        user = self.authenticated(scope)
        if user is None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"www-authenticate", b'Basic realm="default"'),
                        (b"content-length", b"0"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)
