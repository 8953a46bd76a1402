"""An HTTP endpoint for kubelet probes, served on the process's own event loop.

``GET /health/live`` and ``GET /health/ready`` answer 200 while ``healthy()`` is true and 503
otherwise; with ``metrics``, ``GET /metrics`` answers the process's Prometheus metrics on the
same port. A probe costs one small request instead of a Python start-up (an exec probe of
``redtask scheduler --check`` spends about 0.4 s of CPU each time), and a blocked event loop fails
it as well, since the answer comes from that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

PATHS = ("/health/live", "/health/ready")
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _response(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def _answer(
    request_line: bytes, healthy: Callable[[], bool], metrics: Callable[[], bytes] | None = None
) -> bytes:
    method, _, rest = request_line.decode("latin-1").partition(" ")
    path = rest.split(" ", 1)[0].split("?", 1)[0]
    if path == "/metrics" and metrics is not None:
        if method not in ("GET", "HEAD"):
            return _response(405, b'{"status":"METHOD_NOT_ALLOWED"}')
        return _response(200, metrics(), METRICS_TYPE)
    if path not in PATHS:
        return _response(404, b'{"status":"NOT_FOUND"}')
    if method not in ("GET", "HEAD"):
        return _response(405, b'{"status":"METHOD_NOT_ALLOWED"}')
    if healthy():
        return _response(200, b'{"status":"UP"}')
    return _response(503, b'{"status":"DOWN"}')


async def start_health_server(
    port: int,
    healthy: Callable[[], bool],
    host: str = "0.0.0.0",
    metrics: Callable[[], bytes] | None = None,
) -> asyncio.Server:
    """Listen on ``host:port`` (0 = a free port); every connection gets one answer, then closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5):
                request_line = await reader.readline()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # headers: nothing in them changes the answer
                writer.write(_answer(request_line, healthy, metrics))
                await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError) as exc:
            log.debug("health probe connection dropped: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, host, port)
    log.info("health endpoint%s on %s:%d", " and /metrics" if metrics else "", host, port)
    return server
