"""What the dashboard's pages share: the template environment (autoescaped), the filters that
render dates, ages and typed variables, and the answer of a page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any, TypeVar
from urllib.parse import quote

import orjson
from jinja2 import Environment, PackageLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse

from redtask.broker import dates

UI = "/redtask/ui"
PAGE_SIZE = 50
SHOWN_CHARS = 2_000
"""A variable's or error's text longer than this is cut on list pages (the detail shows all)."""

templates = Environment(
    loader=PackageLoader("redtask.gateway.ui", "templates"),
    autoescape=True,  # every template, .svg included: all data is hostile text
    trim_blocks=True,
    lstrip_blocks=True,
)
# an id as one path segment: "/" (possible in a caller-chosen task id) encoded too
templates.filters["segment"] = lambda value: quote(str(value), safe="")


def age(ms: int | None) -> str:
    """A duration in ms as ``2h 03m``, ``4m 05s`` or ``7s``."""
    if ms is None:
        return "-"
    seconds = max(ms, 0) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def typed_value(variable: Mapping[str, Any]) -> str:
    """The value of a Camunda typed value as text: strings as they are, the rest as JSON;
    Bytes and File by their size."""
    kind = variable.get("type")
    value = variable.get("value")
    if kind in ("Bytes", "File"):
        return f"({len(value or '') * 3 // 4} bytes, base64)"
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def cut(text: str | None, limit: int = SHOWN_CHARS) -> str:
    if text is None:
        return ""
    return text if len(text) <= limit else text[:limit] + f" [... {len(text)} characters]"


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    tz: tzinfo = request.app.state.timezone
    store = request.app.state.store
    now = store.clock()

    def when(ms: int | None) -> str:
        return dates.format_ms(ms, tz) or "-"

    body = templates.get_template(name).render(
        ui=UI,
        page=name.removesuffix(".html"),
        now=now,
        when=when,
        age=age,
        typed_value=typed_value,
        cut=cut,
        **context,
    )
    return HTMLResponse(body, status_code=status_code)


def not_found(request: Request, what: str) -> HTMLResponse:
    return render(request, "missing.html", status_code=404, what=what)


def page_of(request: Request) -> int:
    """The ``page`` query parameter (1-based), 1 when absent or not a small number."""
    text = request.query_params.get("page", "1")
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        return 1
    return max(int(text), 1)


T = TypeVar("T")


def paginate(request: Request, items: Sequence[T]) -> tuple[Sequence[T], int, int]:
    """The page of ``items`` the ``page`` query parameter asks for (the last one when it is
    beyond), its number and the number of pages."""
    pages = max((len(items) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(page_of(request), pages)
    return items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], page, pages
