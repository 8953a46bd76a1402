"""Long polling for fetchAndLock: parked requests sleep on an asyncio.Event per request and are
woken by topic through ONE pub/sub subscription per gateway, so a task made fetchable by any
process (another gateway, the scheduler, a direct-Redis worker) wakes polls here at once.

A parked poll holds no Redis connection: it fetches once on arrival and once per wake-up.
Waking every poll of a topic on every wake-up would cost one fetch per parked poll per
published batch (10,000 polls x 10,000 wake-ups); instead a wake-up of a topic wakes:

- the *first idle plain poll* of the topic (plain: no filter besides the topic, so any of them
  can take any fetchable task of it; idle polls queue in arrival order), and
- every *selective* poll of the topic (with a business key, definition, tenant or variable
  filter: only it can tell whether a task matches, so they are all woken, as before).

A woken poll that got tasks passes the wake-up on to two more idle plain polls of its topics
(there may be more tasks: a batch publishes one wake-up per topic), so a burst is drained by a
chain that fans out and stops at the first polls that find nothing. A woken poll that leaves
without fetching (timeout, disconnect, error) passes its wake-up on to one other poll. The work
per wake-up is thus bounded by the tasks it delivers, not by the number of parked polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import Request

from redtask.broker.connection import BACKEND_ERRORS
from redtask.broker.model import TopicRequest
from redtask.broker.store import Store

log = logging.getLogger(__name__)

# polls woken in turn by a poll that got tasks
FAN_OUT = 2


def is_selective(topic: TopicRequest) -> bool:
    """Whether the request filters the topic's tasks (so not every task is fetchable by it)."""
    return bool(
        topic.business_key is not None
        or topic.process_definition_id is not None
        or topic.process_definition_id_in is not None
        or topic.process_definition_key is not None
        or topic.process_definition_key_in is not None
        or topic.process_definition_version_tag is not None
        or topic.without_tenant_id
        or topic.tenant_id_in is not None
        or topic.process_variables
    )


class Waiter:
    """One parked poll: its topics, whether it filters them, and the event that wakes it."""

    __slots__ = ("event", "selective", "topics")

    def __init__(self, topics: list[str], selective: bool) -> None:
        self.topics = topics
        self.selective = selective
        self.event = asyncio.Event()


class WakeHub:
    def __init__(self, store: Store, capacity: int) -> None:
        self.store = store
        self.capacity = capacity
        # topic -> idle plain polls in arrival order (a dict is an ordered set)
        self.idle: dict[str, dict[Waiter, None]] = {}
        # topic -> selective polls (woken by every wake-up of the topic)
        self.selective: dict[str, dict[Waiter, None]] = {}
        self.waiters: set[Waiter] = set()
        # metrics: seconds from a parked poll's wake-up to its answer with tasks
        self.wake_latency: Callable[[float], None] | None = None
        self.closing = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def parked(self) -> int:
        return len(self.waiters)

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
        for waiter in list(self.waiters):
            self._wake(waiter)

    # ------------------------------------------------------------------ waking
    def _make_idle(self, waiter: Waiter) -> None:
        registry = self.selective if waiter.selective else self.idle
        for topic in waiter.topics:
            registry.setdefault(topic, {})[waiter] = None

    def _forget(self, waiter: Waiter) -> None:
        registry = self.selective if waiter.selective else self.idle
        for topic in waiter.topics:
            polls = registry.get(topic)
            if polls is not None:
                polls.pop(waiter, None)
                if not polls:
                    del registry[topic]

    def _wake(self, waiter: Waiter) -> None:
        if not waiter.selective:
            self._forget(waiter)  # a woken plain poll is no longer idle until it waits again
        waiter.event.set()

    def _wake_plain(self, topic: str, count: int) -> None:
        for _ in range(count):
            polls = self.idle.get(topic)
            if not polls:
                return
            self._wake(next(iter(polls)))

    def wake_topic(self, topic: str) -> None:
        """A task of ``topic`` became fetchable: wake one idle plain poll, all selective ones."""
        for waiter in list(self.selective.get(topic, ())):
            waiter.event.set()
        self._wake_plain(topic, 1)

    def _pass_on(self, waiter: Waiter, count: int) -> None:
        for topic in waiter.topics:
            self._wake_plain(topic, count)

    async def _listen(self) -> None:
        backoff = 0.05
        while not self.closing.is_set():
            try:
                async for topic in self.store.wake_ups():
                    backoff = 0.05
                    self.wake_topic(topic)
            except BACKEND_ERRORS as exc:
                log.warning("wake-up subscription lost (%s); reconnecting", exc)
                # wake-ups may have been missed while disconnected: let every poll look again
                self._wake_all()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    # ------------------------------------------------------------------ parking
    async def park(
        self,
        request: Request,
        topics: Sequence[TopicRequest],
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
        names = list(dict.fromkeys(t.topic_name for t in topics))
        waiter = Waiter(names, any(is_selective(t) for t in topics))
        self.waiters.add(waiter)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout_ms, 0) / 1000
        disconnected = asyncio.ensure_future(request.receive())
        tasks: list[Any] = []
        woken_at: float | None = None
        try:
            while True:
                # idle and cleared before fetching: a wake-up during the fetch is not lost
                self._make_idle(waiter)
                waiter.event.clear()
                tasks = await fetch()
                remaining = deadline - loop.time()
                if tasks and woken_at is not None and self.wake_latency is not None:
                    self.wake_latency(loop.time() - woken_at)
                if tasks or remaining <= 0 or self.closing.is_set():
                    return tasks
                woken = asyncio.ensure_future(waiter.event.wait())
                done, _ = await asyncio.wait(
                    {woken, disconnected}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                woken.cancel()
                woken_at = loop.time() if woken in done else None
                if disconnected in done:
                    return []  # the client is gone; nothing was locked for it
        finally:
            disconnected.cancel()
            self.waiters.discard(waiter)
            self._forget(waiter)
            if not self.closing.is_set():
                if tasks:
                    self._pass_on(waiter, FAN_OUT)
                elif waiter.event.is_set() and not waiter.selective:
                    self._pass_on(waiter, 1)  # woken, but leaving without looking
