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
from datetime import UTC, datetime
from typing import Any

import orjson

from redtask.broker import model
from redtask.broker.connection import BACKEND_ERRORS
from redtask.broker.errors import (
    ConfigurationError,
    InvalidArgument,
    LockExpired,
    StaleLock,
    TaskNotFound,
    WorkerMismatch,
)
from redtask.broker.settings import Settings
from redtask.broker.store import Completion, Store, open_store
from redtask.worker.errors import Rejected, TaskLost, Unavailable
from redtask.worker.task import ExternalTask
from redtask.worker.transport.base import Subscription
from redtask.worker.values import TypedValue

log = logging.getLogger(__name__)
_LOST = (TaskNotFound, WorkerMismatch, LockExpired, StaleLock)
# while waiting for a wake-up, look anyway this often (a wake-up lost during a reconnect)
_RECHECK_S = 1.0
# most completions in one complete_many call (bounds the work of one script call)
_COMPLETE_BATCH = 100


def topic_request(s: Subscription) -> model.TopicRequest:
    return model.TopicRequest(
        topic_name=s.topic,
        lock_duration=s.lock_duration,
        variables=s.variables,
        local_variables=s.local_variables,
        business_key=s.business_key,
        process_definition_key=s.process_definition_key,
        process_definition_key_in=s.process_definition_key_in,
        without_tenant_id=s.without_tenant_id,
        tenant_id_in=s.tenant_id_in,
        process_variables=s.process_variables,
        include_extension_properties=s.include_extension_properties,
    )


def task_from_hash(task_id: str, h: Mapping[str, str], request: model.TopicRequest) -> ExternalTask:
    """A standalone task from its hash (fields in ``broker.model``), showing the variables
    ``request`` selects, as the broker's ``fetched_view`` does."""
    wanted = request.variables
    variables = {
        k[2:]: orjson.loads(v)
        for k, v in h.items()
        if k[:2] == "v." and (wanted is None or k[2:] in wanted)
    }
    retries, expires = h.get("r"), h.get("le")
    return ExternalTask(
        id=task_id,
        topic_name=h["t"],
        worker_id=h.get("w") or "",
        typed_variables=variables,
        retries=None if retries is None else int(retries),
        priority=int(h.get("p", "0")),
        business_key=h.get("bk"),
        tenant_id=h.get("tn"),
        error_message=h.get("em"),
        error_details=h.get("ed"),
        lock_expiration_time=None
        if expires is None
        else datetime.fromtimestamp(int(expires) / 1000, UTC),
        lock_token=int(h.get("tok", "0")),
    )


def task_from_model(t: model.ExternalTask) -> ExternalTask:
    expires = t.lock_expiration_time
    return ExternalTask(
        id=t.id,
        topic_name=t.topic_name,
        worker_id=t.worker_id or "",
        typed_variables=t.variables,
        retries=t.retries,
        priority=t.priority,
        business_key=t.business_key,
        tenant_id=t.tenant_id,
        process_instance_id=t.process_instance_id,
        process_definition_id=t.process_definition_id,
        process_definition_key=t.process_definition_key,
        activity_id=t.activity_id,
        activity_instance_id=t.activity_instance_id,
        execution_id=t.execution_id,
        error_message=t.error_message,
        error_details=t.error_details,
        lock_expiration_time=None
        if expires is None
        else datetime.fromtimestamp(expires / 1000, UTC),
        extension_properties=t.extension_properties,
        lock_token=t.lock_token,
    )


@dataclass(frozen=True, slots=True)
class _Request:
    """What the worker last fetched for: the request a fetch-ahead repeats."""

    worker_id: str
    subscriptions: tuple[Subscription, ...]
    topics: list[model.TopicRequest]
    use_priority: bool


class _Translated:
    """``with translated:`` turns broker and Redis errors into the transport's three kinds,
    naming ``where`` the server is (a plain context manager: it runs on every call, and an
    async one costs an await more)."""

    def __init__(self, where: str = "redis") -> None:
        self.where = where  # names the server in Unavailable's message

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if exc is None or not isinstance(exc, Exception):
            return
        if isinstance(exc, _LOST):
            raise TaskLost(str(exc)) from exc
        if isinstance(exc, InvalidArgument | ConfigurationError):
            raise Rejected(str(exc)) from exc
        if isinstance(exc, BACKEND_ERRORS):
            raise Unavailable(f"{self.where}: {exc!r}") from exc


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
        self._translated = _Translated(f"redis at {self.settings.redis_address()}")

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
