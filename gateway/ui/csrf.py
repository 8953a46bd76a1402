"""Cross-site request forgery protection of the dashboard's forms.

With HTTP Basic auth a browser sends the credentials with any request to the gateway, also one
a foreign page makes it send, so a state-changing POST must prove it comes from a page of the
dashboard: its ``Origin`` header (every current browser sends one with a POST), or else its
``Referer``, must name the host the request was sent to. A POST with neither is refused too.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

REFUSED = "Refused: this form must be sent from the dashboard's own pages (cross-origin request)"


def _netloc(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts.netloc.lower()


def refusal(request: Request) -> Response | None:
    """None when ``request`` comes from the same origin, else the 403 to answer."""
    host = request.headers.get("host", "").lower()
    origin = request.headers.get("origin")
    source = origin if origin is not None and origin != "null" else request.headers.get("referer")
    if host and source is not None and _netloc(source) == host:
        return None
    return PlainTextResponse(REFUSED, status_code=403)
