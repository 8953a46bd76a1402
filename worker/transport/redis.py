"""The direct-Redis transport: the broker's store in-process, no HTTP hop. Completions present
the lock token, so a worker whose lock was taken over cannot win even under a shared worker id.

Completions are group-committed: those reported in the same turn of the event loop, or while an
earlier batch is on its way, go to Redis together as one ``complete_many`` call (one script call
per partition), and each caller gets its own task's result. A lone completion is sent on the next
turn of the loop, so batching adds no waiting, only fewer round trips under load.

Complete-and-fetch-next: while the worker waits for capacity (no fetch of its own under way), a
batch of k completions is sent together with a fetch of up to k tasks for the worker's last
request, on a second connection, so the two round trips overlap. The capacity the completions
free is then refilled from what that fetch locked, without another round trip: the next
``fetch_and_lock`` returns those tasks at once (at most its ``max_tasks``; any left wait for the
next call, and ``aclose`` unlocks them). A fetch of the worker's own waits for one under way, so
the worker never holds more than its capacity once its completions are acknowledged.

Tasks are built straight from their Redis hashes into the SDK's ``ExternalTask`` (a task of a
process instance, whose variables live in its instance, through the broker's fetched view)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redtask.broker import model
from redtask.broker.connection import BACKEND_ERRORS
from redtask.broker.settings import Settings
from redtask.broker.store import Completion, Store, open_store
from redtask.worker.task import ExternalTask
from redtask.worker.transport.base import Subscription
from redtask.worker.transport.redis_convert import (
    Translated,
    task_from_hash,
    task_from_model,
    topic_request,
)
from redtask.worker.values import TypedValue

log = logging.getLogger(__name__)
# while waiting for a wake-up, look anyway this often (a wake-up lost during a reconnect)
_RECHECK_S = 1.0
# most completions in one complete_many call (bounds the work of one script call)
_COMPLETE_BATCH = 100


@dataclass(frozen=True, slots=True)
class _Request:
    """What the worker last fetched for: the request a fetch-ahead repeats."""

    worker_id: str
    subscriptions: tuple[Subscription, ...]
    topics: list[model.TopicRequest]
    use_priority: bool


class RedisTransport:
    """Uses ``store`` if given, else connects with ``settings`` (REDTASK_* environment) on first
    use, so a worker started before Redis waits for it instead of failing. ``fetch_ahead=False``
    turns complete-and-fetch-next off (every fetch is then the worker's own)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: Store | None = None,
        fetch_ahead: bool = True,
    ) -> None:
        self.settings = settings or Settings()
        self.fetch_ahead = fetch_ahead
        self._store = store
        self._ready: Store | None = None  # the store once connected and listening
        self._owns_store = store is None
        self._listener: asyncio.Task[None] | None = None
        self._topics: frozenset[str] = frozenset()
        self._woken = asyncio.Event()
        self._generation = 0
        self._completions: list[tuple[Completion, asyncio.Future[Exception | None]]] = []
        self._committer: asyncio.Task[None] | None = None
        self._request: _Request | None = None
        self._fetching = False  # a fetch_and_lock of the worker's own is under way
        self._ahead: list[ExternalTask] = []  # locked by a fetch-ahead, not yet handed out
        self._ahead_fetch: asyncio.Task[None] | None = None
        self._translated = Translated(f"redis at {self.settings.redis_address()}")

    async def store(self) -> Store:
        if self._store is None:
            with self._translated:
                self._store = await open_store(self.settings)
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(self._store))
        self._ready = self._store
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

    async def fetch_and_lock(
        self,
        worker_id: str,
        max_tasks: int,
        subscriptions: Sequence[Subscription],
        *,
        use_priority: bool,
        wait_ms: int,
    ) -> list[ExternalTask]:
        store = await self.store()
        self._fetching = True
        try:
            request = self._request
            subs = tuple(subscriptions)
            if request is None or (
                request.worker_id,
                request.subscriptions,
                request.use_priority,
            ) != (
                worker_id,
                subs,
                use_priority,
            ):
                request = _Request(worker_id, subs, [topic_request(s) for s in subs], use_priority)
                self._request = request
                self._topics = frozenset(s.topic for s in subs)
            if self._ahead_fetch is not None:
                await asyncio.shield(self._ahead_fetch)
            if self._ahead:
                if (
                    self._ahead[0].worker_id == worker_id
                    and self._ahead[0].topic_name in self._topics
                ):
                    taken, self._ahead = self._ahead[:max_tasks], self._ahead[max_tasks:]
                    return taken
                await self._unlock_ahead(store)
            return await self._fetch(store, request, max_tasks, wait_ms)
        finally:
            self._fetching = False

    async def _fetch(
        self, store: Store, request: _Request, max_tasks: int, wait_ms: int
    ) -> list[ExternalTask]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_ms / 1000
        while True:
            generation, woken = self._generation, self._woken
            with self._translated:
                locked = await _uncancelled_fetch(store, self._lock(store, request, max_tasks))
            remaining = deadline - loop.time()
            if locked or remaining <= 0:
                return locked
            if generation == self._generation:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), min(remaining, _RECHECK_S))

    @staticmethod
    def _lock(
        store: Store, request: _Request, max_tasks: int
    ) -> Coroutine[Any, Any, list[ExternalTask]]:
        return store.fetch_and_lock_as(
            request.worker_id,
            max_tasks,
            request.topics,
            task_from_hash,
            task_from_model,
            use_priority=request.use_priority,
        )

    async def _fetch_ahead(self, store: Store, request: _Request, max_tasks: int) -> None:
        """Lock up to ``max_tasks`` for the worker's next ``fetch_and_lock`` (errors are left
        to that fetch, which will meet them itself)."""
        try:
            self._ahead += await _uncancelled_fetch(store, self._lock(store, request, max_tasks))
        except Exception as exc:
            log.debug("fetch-ahead failed: %r", exc)
        finally:
            self._ahead_fetch = None

    async def _unlock_ahead(self, store: Store) -> None:
        ahead, self._ahead = self._ahead, []
        for task in ahead:
            with contextlib.suppress(Exception):
                await store.unlock(task.id, lock_token=task.lock_token)

    async def complete(
        self,
        task: ExternalTask,
        variables: Mapping[str, TypedValue],
        local_variables: Mapping[str, TypedValue],
    ) -> None:
        store = self._ready or await self.store()  # once per task: skip the checks when ready
        item = Completion(task.id, task.worker_id, variables, local_variables, task.lock_token)
        result: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self._completions.append((item, result))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit(store))
        with self._translated:
            error = await result
            if error is not None:
                raise error

    async def _commit(self, store: Store) -> None:
        """Send the waiting completions in batches until none is left; each waiter gets its
        own result (or the error that failed its whole batch)."""
        while self._completions:
            batch = [(c, f) for c, f in self._completions[:_COMPLETE_BATCH] if not f.done()]
            del self._completions[:_COMPLETE_BATCH]  # a cancelled waiter's item is dropped
            if not batch:
                continue
            request = self._request
            if (
                request is not None
                and self.fetch_ahead
                and not self._fetching
                and self._ahead_fetch is None
                and len(batch) > len(self._ahead)
            ):
                self._ahead_fetch = asyncio.create_task(
                    self._fetch_ahead(store, request, len(batch) - len(self._ahead))
                )
            try:
                results = await store.complete_many([item for item, _ in batch])
            except asyncio.CancelledError:
                for _, f in batch:
                    f.cancel()
                raise
            except Exception as exc:  # e.g. Redis went away: every item of the batch failed
                results = [exc] * len(batch)
            if len(results) != len(batch):  # a bug; raised from zip below, it would end the
                # committer and leave these waiters (and their workers' capacity) hanging
                error = RuntimeError(f"{len(results)} results for {len(batch)} completions")
                results = [error] * len(batch)
            for (_, waiter), outcome in zip(batch, results, strict=True):
                if not waiter.done():
                    waiter.set_result(outcome)

    async def failure(
        self,
        task: ExternalTask,
        error_message: str,
        error_details: str | None,
        retries: int,
        retry_timeout: int,
    ) -> None:
        store = await self.store()
        with self._translated:
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
        with self._translated:
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
        with self._translated:
            await store.extend_lock(
                task.id, task.worker_id, new_duration, lock_token=task.lock_token
            )

    async def unlock(self, task: ExternalTask) -> None:
        """Unlock, unless another lock was taken since ours (TaskLost)."""
        store = await self.store()
        with self._translated:
            await store.unlock(task.id, lock_token=task.lock_token)

    async def aclose(self) -> None:
        self._ready = None
        if self._ahead_fetch is not None:
            self._ahead_fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ahead_fetch
            self._ahead_fetch = None
        if self._ahead and self._store is not None:
            await self._unlock_ahead(self._store)
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
            self._committer = None
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._store is not None and self._owns_store:
            await self._store.close()
            self._store = None


async def _uncancelled_fetch(
    store: Store, fetch: Coroutine[Any, Any, list[ExternalTask]]
) -> list[ExternalTask]:
    """Run a fetch so that tasks it locked are never stranded: if we are cancelled while the
    script runs, wait for its reply and unlock what it locked before passing the cancel on."""
    running = asyncio.ensure_future(fetch)
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            for task in await running:
                await store.unlock(task.id, lock_token=task.lock_token)
        raise
