"""A JSON response rendered with orjson (null fields kept, as Camunda's Jackson does), and a
binary variable's content."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from starlette.responses import Response


class JSONBody(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def variable_data(typed: dict[str, Any]) -> Response | None:
    """A Bytes or File variable's content (Camunda's VariableResponseProvider): Bytes as
    application/octet-stream, a File with its mimeType (and encoding as charset) and filename;
    None for any other type."""
    if typed.get("type") not in ("Bytes", "File"):
        return None
    content = base64.b64decode(typed.get("value") or "")  # stored as base64
    if typed.get("type") == "Bytes":
        return Response(content, headers={"Content-Type": "application/octet-stream"})
    info = typed.get("valueInfo") or {}
    media = info.get("mimeType") or "application/octet-stream"
    if info.get("encoding"):
        media += f"; charset={info['encoding']}"
    disposition = f"attachment; filename={info.get('filename')}"
    return Response(content, headers={"Content-Type": media, "Content-Disposition": disposition})
