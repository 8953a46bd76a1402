"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for latency measurements.

A latency benchmark should spend as little of the measured time as it can in its own client.
httpx is what a Python worker would use, but its request path (client, httpcore, h11) is long:
after a short idle gap its own CPU caches are cold and one request costs the caller about 1.5 ms
more than this client on the benchmark machine. This client writes one prebuilt request and
reads one response with a ``Content-Length`` body (or none: 204, 304), which is all the
benchmark needs (it refuses anything else rather than guess).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


class RawConn:
    """One keep-alive connection: ``await post(path, body)`` -> (status, body)."""

    def __init__(self, base: str, timeout: float = 30.0) -> None:
        url = urlsplit(base)
        if url.scheme != "http" or not url.hostname:
            raise ValueError(f"rawhttp speaks plain http only: {base!r}")
        self.host, self.port = url.hostname, url.port or 80
        self.prefix = url.path.rstrip("/")
        self.timeout = timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            # asyncio sets TCP_NODELAY on its TCP streams: no Nagle delay on small writes
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {self.prefix}{path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode("ascii") + body)
        return await asyncio.wait_for(self._response(self.reader), self.timeout)

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
        raw = await reader.readuntil(b"\r\n\r\n")
        status_line, *lines = raw.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if status == 204 or status == 304:
            return status, b""  # no body by definition
        if "content-length" not in headers:
            raise RuntimeError(f"rawhttp needs a Content-Length response: {headers}")
        return status, await reader.readexactly(int(headers["content-length"]))

    async def __aenter__(self) -> RawConn:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()
