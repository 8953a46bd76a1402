"""The direct-Redis transport: the broker's store in-process, no HTTP hop. Completions present
the lock token, so a worker whose lock was taken over cannot win even under a shared worker id.

Completions are group-committed: those reported in the same turn of the event loop, or while an
earlier batch is on its way, go to Redis together as one ``complete_many`` call (one script call
per partition), and each caller gets its own task's result. A lone completion is sent on the next
turn of the loop, so batching adds no waiting, only fewer round trips under load.

Complete-and-fetch-next: while the worker waits for capacity (no fetch of its own under way), a
batch of k completions is sent together with a fetch of up to k tasks for the worker's last
request (both ride the store's pipelined connection, one after the other). The capacity the
completions free is then refilled from what that fetch locked, without another round trip: the
next ``fetch_and_lock`` returns those tasks at once (at most its ``max_tasks``; any left wait for
the next call, and ``aclose`` unlocks them). A fetch of the worker's own waits for one under way,
so the worker never holds more than its capacity once its completions are acknowledged.

Poll lanes: a ``Worker`` splits its concurrency among ``lanes`` (default 2, see ``lanes``), each
with its own poller, fetch-ahead and committer (``redis_lane.RedisLane``; the transport itself
is the first). One lane's batch is in Redis while the other's handlers and task objects are
processed here, so the process and Redis work at the same time instead of taking turns. While
the worker's thread waits for a CPU (more busy processes than cores), it polls with the first
lane alone and the others rest (``redtask.worker.lanes``; ``adaptive_lanes=False`` keeps them).

Tasks are built straight from their Redis hashes into the SDK's ``ExternalTask`` (a task of a
process instance, whose variables live in its instance, through the broker's fetched view)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence

from redtask.broker.connection import BACKEND_ERRORS
from redtask.broker.settings import Settings
from redtask.broker.store import Store, open_store
from redtask.worker.task import ExternalTask
from redtask.worker.transport.base import Subscription
from redtask.worker.transport.redis_convert import (  # noqa: F401  (names of this module)
    Translated,
    task_from_hash,
    task_from_model,
    topic_request,
)
from redtask.worker.transport.redis_lane import RedisLane, Request, lock, uncancelled_fetch
from redtask.worker.values import TypedValue

log = logging.getLogger(__name__)
# while waiting for a wake-up, look anyway this often (a wake-up lost during a reconnect)
_RECHECK_S = 1.0


class RedisTransport:
    """Uses ``store`` if given, else connects with ``settings`` (REDTASK_* environment) on first
    use, so a worker started before Redis waits for it instead of failing. ``fetch_ahead=False``
    turns complete-and-fetch-next off (every fetch is then the worker's own). ``lanes`` is the
    most poll lanes; ``adaptive_lanes=False`` keeps them all in use even while the worker's
    thread waits for a CPU (see ``redtask.worker.lanes``)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: Store | None = None,
        fetch_ahead: bool = True,
        lanes: int = 2,
        adaptive_lanes: bool = True,
    ) -> None:
        if lanes < 1:
            raise ValueError("lanes must be at least 1")
        self.settings = settings or Settings()
        self.fetch_ahead = fetch_ahead
        self.max_lanes = lanes
        self.adaptive_lanes = adaptive_lanes
        self._store = store
        self.ready: Store | None = None  # the store once connected and listening
        self._owns_store = store is None
        self._listener: asyncio.Task[None] | None = None
        self._topics: frozenset[str] = frozenset()
        self._woken = asyncio.Event()
        self._generation = 0
        self.translated = Translated(f"redis at {self.settings.redis_address()}")
        self._lanes: list[RedisLane] = []
        self._lane = RedisLane(self)  # the lane of this transport's own fetches

    @property
    def opened(self) -> Store | None:
        """The store, once one was given or opened."""
        return self._store

    def attach(self, lane: RedisLane) -> None:
        self._lanes.append(lane)

    def listen_for(self, topics: Iterable[str]) -> None:
        """Wake-ups of ``topics`` end the lanes' long polls."""
        self._topics = self._topics | frozenset(topics)

    async def store(self) -> Store:
        if self._store is None:
            with self.translated:
                self._store = await open_store(self.settings)
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(self._store))
        self.ready = self._store
        return self._store

    async def _listen(self, store: Store) -> None:
        """Turn wake-ups of our topics into a new generation; reconnects after Redis restarts."""
        while True:
            try:
                async for topic in store.wake_ups():
                    if topic in self._topics:
                        self._wake()
            except Exception as exc:  # a bug too: fetches would fall back to polling each second
                log.log(
                    logging.DEBUG if isinstance(exc, BACKEND_ERRORS) else logging.ERROR,
                    "wake-up subscription lost (%r); resubscribing",
                    exc,
                    exc_info=not isinstance(exc, BACKEND_ERRORS),
                )
            self._wake()  # tasks may have become fetchable while we were away
            await asyncio.sleep(_RECHECK_S)

    def _wake(self) -> None:
        self._generation += 1
        woken, self._woken = self._woken, asyncio.Event()
        woken.set()

    def lanes(self, concurrency: int) -> list[RedisTransport | RedisLane]:
        """The transports of a worker's poll lanes: up to ``self.max_lanes`` (one per task of
        ``concurrency`` at most), the first being this transport itself. Each lane fetches
        ahead and group-commits on its own, so one lane's round trip to Redis overlaps the
        other's handlers and bookkeeping in this process."""
        count = max(1, min(self.max_lanes, concurrency))
        return [self, *(RedisLane(self) for _ in range(count - 1))]

    async def fetch_and_lock(
        self,
        worker_id: str,
        max_tasks: int,
        subscriptions: Sequence[Subscription],
        *,
        use_priority: bool,
        wait_ms: int,
    ) -> list[ExternalTask]:
        return await self._lane.fetch_and_lock(
            worker_id, max_tasks, subscriptions, use_priority=use_priority, wait_ms=wait_ms
        )

    async def complete(
        self,
        task: ExternalTask,
        variables: Mapping[str, TypedValue],
        local_variables: Mapping[str, TypedValue],
    ) -> None:
        await self._lane.complete(task, variables, local_variables)

    def complete_soon(
        self,
        task: ExternalTask,
        variables: Mapping[str, TypedValue],
        local_variables: Mapping[str, TypedValue],
    ) -> asyncio.Future[Exception | None] | None:
        """See ``RedisLane.complete_soon``."""
        return self._lane.complete_soon(task, variables, local_variables)

    def regroup(self) -> None:
        """See ``RedisLane.regroup`` (of this transport's own lane)."""
        self._lane.regroup()

    async def fetch_for(
        self, store: Store, request: Request, max_tasks: int, wait_ms: int
    ) -> list[ExternalTask]:
        """Lock up to ``max_tasks`` for ``request``, waiting up to ``wait_ms`` for a wake-up
        of its topics while none is fetchable."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_ms / 1000
        while True:
            generation, woken = self._generation, self._woken
            with self.translated:
                locked = await uncancelled_fetch(store, lock(store, request, max_tasks))
            remaining = deadline - loop.time()
            if locked or remaining <= 0:
                return locked
            if generation == self._generation:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), min(remaining, _RECHECK_S))

    async def failure(
        self,
        task: ExternalTask,
        error_message: str,
        error_details: str | None,
        retries: int,
        retry_timeout: int,
    ) -> None:
        store = await self.store()
        with self.translated:
            await store.handle_failure(
                task.id,
                task.worker_id,
                error_message,
                error_details,
                retries,
                retry_timeout,
                lock_token=task.lock_token,
            )

    async def bpmn_error(
        self,
        task: ExternalTask,
        error_code: str,
        error_message: str | None,
        variables: Mapping[str, TypedValue],
    ) -> None:
        store = await self.store()
        with self.translated:
            await store.handle_bpmn_error(
                task.id,
                task.worker_id,
                error_code,
                error_message,
                dict(variables),
                lock_token=task.lock_token,
            )

    async def extend_lock(self, task: ExternalTask, new_duration: int) -> None:
        store = await self.store()
        with self.translated:
            await store.extend_lock(
                task.id, task.worker_id, new_duration, lock_token=task.lock_token
            )

    async def unlock(self, task: ExternalTask) -> None:
        """Unlock, unless another lock was taken since ours (TaskLost)."""
        store = await self.store()
        with self.translated:
            await store.unlock(task.id, lock_token=task.lock_token)

    async def aclose(self) -> None:
        self.ready = None
        if self._listener is not None:  # first: the lanes' unlocks publish wake-ups
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        for lane in self._lanes:
            await lane.aclose()
        if self._store is not None and self._owns_store:
            await self._store.close()
            self._store = None
