"""Long polling for fetchAndLock: parked requests sleep on an asyncio.Event per request and are
woken by topic through ONE pub/sub subscription per gateway, so a task made fetchable by any
process (another gateway, the scheduler, a direct-Redis worker) wakes polls here at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.requests import Request

from redtask.broker.connection import BACKEND_ERRORS
from redtask.broker.store import Store

log = logging.getLogger(__name__)


class WakeHub:
    def __init__(self, store: Store, capacity: int) -> None:
        self.store = store
        self.capacity = capacity
        self.waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self.parked = 0
        # metrics: seconds from a parked poll's wake-up to its answer with tasks
        self.wake_latency: Callable[[float], None] | None = None
        self.closing = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._listener = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        self.close()
        listener = self._listener
        # redis-py's wait_for may swallow one cancellation (Python 3.11): cancel until done
        for _ in range(50):
            if listener is None or listener.done():
                break
            listener.cancel()
            await asyncio.wait({listener}, timeout=0.1)
        if listener is not None and listener.done() and not listener.cancelled():
            with contextlib.suppress(Exception):
                listener.result()

    def close(self) -> None:
        """Shutdown: every parked poll answers ``[]`` now."""
        self.closing.set()
        self._wake_all()

    def _wake_all(self) -> None:
        for events in self.waiters.values():
            for event in events:
                event.set()

    async def _listen(self) -> None:
        backoff = 0.05
        while not self.closing.is_set():
            try:
                async for topic in self.store.wake_ups():
                    backoff = 0.05
                    for event in self.waiters.get(topic, ()):
                        event.set()
            except BACKEND_ERRORS as exc:
                log.warning("wake-up subscription lost (%s); reconnecting", exc)
                # wake-ups may have been missed while disconnected: let every poll look again
                self._wake_all()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def park(
        self,
        request: Request,
        topics: Iterable[str],
        timeout_ms: int,
        fetch: Callable[[], Awaitable[list[Any]]],
    ) -> list[Any]:
        """Retry ``fetch`` on every wake-up of ``topics`` until it returns tasks, the timeout
        passes, the client goes away or the gateway shuts down (then ``[]``)."""
        if self.parked >= self.capacity:
            from redtask.gateway.errors import CamundaError

            raise CamundaError(
                500,
                "InvalidRequestException",
                "At the moment the server has to handle too many requests at the same time. "
                "Please try again later.",
            )
        topics = list(topics)
        event = asyncio.Event()
        for topic in topics:
            self.waiters[topic].add(event)
        self.parked += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout_ms, 0) / 1000
        disconnected = asyncio.ensure_future(request.receive())
        woken_at: float | None = None
        try:
            while True:
                event.clear()  # before fetching: a wake during the fetch is not lost
                tasks = await fetch()
                remaining = deadline - loop.time()
                if tasks and woken_at is not None and self.wake_latency is not None:
                    self.wake_latency(loop.time() - woken_at)
                if tasks or remaining <= 0 or self.closing.is_set():
                    return tasks
                woken = asyncio.ensure_future(event.wait())
                done, _ = await asyncio.wait(
                    {woken, disconnected}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                woken.cancel()
                woken_at = loop.time() if woken in done else None
                if disconnected in done:
                    return []  # the client is gone; nothing was locked for it
        finally:
            disconnected.cancel()
            self.parked -= 1
            for topic in topics:
                self.waiters[topic].discard(event)
                if not self.waiters[topic]:
                    del self.waiters[topic]
