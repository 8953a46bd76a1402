"""One poll lane of the direct-Redis transport: its fetch-ahead and its group commit.

A worker's poll lanes share the transport's store, connection and wake-ups; each lane has its
own poller and its own share of the worker's capacity, so while one lane's batch is on its
way to Redis the other lane's handlers, outcomes and task objects are processed here. With a
single lane, a process alternates between waiting for Redis and working while Redis waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redtask.broker import model
from redtask.broker.pipelined import coalesce_writes
from redtask.broker.store import Completion, Store
from redtask.worker.task import ExternalTask
from redtask.worker.transport.base import Subscription
from redtask.worker.transport.redis_convert import task_from_hash, task_from_model, topic_request
from redtask.worker.values import TypedValue

if TYPE_CHECKING:
    from redtask.worker.transport.redis import RedisTransport

log = logging.getLogger("redtask.worker.transport.redis")
# most completions in one complete_many call (bounds the work of one script call)
_COMPLETE_BATCH = 100


@dataclass(frozen=True, slots=True)
class Request:
    """What the lane last fetched for: the request a fetch-ahead repeats."""

    worker_id: str
    subscriptions: tuple[Subscription, ...]
    topics: list[model.TopicRequest]
    use_priority: bool
    topic_names: frozenset[str]


def lock(store: Store, request: Request, max_tasks: int) -> Coroutine[Any, Any, list[ExternalTask]]:
    return store.fetch_and_lock_as(
        request.worker_id,
        max_tasks,
        request.topics,
        task_from_hash,
        task_from_model,
        use_priority=request.use_priority,
    )


async def uncancelled_fetch(
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


class RedisLane:
    """A lane of ``transport`` (see the module docstring and ``RedisTransport``): fetches and
    completions go through the lane's own fetch-ahead and committer; failures, BPMN errors,
    lock extensions and unlocks straight through the transport."""

    def __init__(self, transport: RedisTransport) -> None:
        self.transport = transport
        self._completions: list[tuple[Completion, asyncio.Future[Exception | None]]] = []
        self._committer: asyncio.Task[None] | None = None
        self._request: Request | None = None
        self._fetching = False  # a fetch_and_lock of the lane's own is under way
        self._ahead: list[ExternalTask] = []  # locked by a fetch-ahead, not yet handed out
        self._ahead_fetch: asyncio.Task[None] | None = None
        self.resting = False  # see rest()
        self._regroup = False  # see regroup()
        self._giving_back: asyncio.Task[None] | None = None
        transport.attach(self)

    def rest(self, resting: bool) -> None:
        """While the worker polls without this lane (``worker.lanes``), it fetches nothing
        ahead, and what it had locked ahead is unlocked, so that it waits for nobody."""
        self.resting = resting
        if resting and (self._ahead or self._ahead_fetch) and self._giving_back is None:
            self._giving_back = asyncio.create_task(self._give_back_ahead())

    async def _give_back_ahead(self) -> None:
        try:
            if self._ahead_fetch is not None:
                await asyncio.shield(self._ahead_fetch)
            store = self.transport.opened
            if self.resting and self._ahead and store is not None:
                await self._unlock_ahead(store)
        finally:
            self._giving_back = None

    async def fetch_and_lock(
        self,
        worker_id: str,
        max_tasks: int,
        subscriptions: Sequence[Subscription],
        *,
        use_priority: bool,
        wait_ms: int,
    ) -> list[ExternalTask]:
        store = await self.transport.store()
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
                names = frozenset(s.topic for s in subs)
                topics = [topic_request(s) for s in subs]
                request = Request(worker_id, subs, topics, use_priority, names)
                self._request = request
                self.transport.listen_for(names)
            if self._ahead_fetch is not None:
                await asyncio.shield(self._ahead_fetch)
            if self._ahead:
                first = self._ahead[0]
                if first.worker_id == worker_id and first.topic_name in request.topic_names:
                    taken, self._ahead = self._ahead[:max_tasks], self._ahead[max_tasks:]
                    if self._regroup and len(taken) < max_tasks:
                        taken += await self._more(store, request, taken, max_tasks)
                    self._regroup = False
                    return taken
                await self._unlock_ahead(store)
            self._regroup = False
            return await self.transport.fetch_for(store, request, max_tasks, wait_ms)
        finally:
            self._fetching = False

    def regroup(self) -> None:
        """Let the next fetch hand out what was locked ahead together with a fetch of the rest
        of its ``max_tasks``, so that they start (and complete, and are committed) together:
        after the worker's lanes were merged (``worker.lanes``), their batches become one."""
        self._regroup = True

    async def _more(
        self, store: Store, request: Request, taken: list[ExternalTask], max_tasks: int
    ) -> list[ExternalTask]:
        try:
            with self.transport.translated:
                return await uncancelled_fetch(store, lock(store, request, max_tasks - len(taken)))
        except BaseException:
            self._ahead[:0] = taken  # handed out by the next fetch (or unlocked by aclose)
            raise

    async def _fetch_ahead(self, store: Store, request: Request, max_tasks: int) -> None:
        """Lock up to ``max_tasks`` for the lane's next ``fetch_and_lock`` (errors are left
        to that fetch, which will meet them itself). Started beside a commit, its script call
        leaves with the commit's in one write. Never cancelled while the script runs (``aclose``
        waits for it), so what it locks is handed out or unlocked, never stranded."""
        try:
            self._ahead += await lock(store, request, max_tasks)
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
        store = self.transport.ready or await self.transport.store()  # skip checks when ready
        error = await self._enqueue(store, task, variables, local_variables)
        if error is not None:
            raise error

    def complete_soon(
        self,
        task: ExternalTask,
        variables: Mapping[str, TypedValue],
        local_variables: Mapping[str, TypedValue],
    ) -> asyncio.Future[Exception | None] | None:
        """``complete`` without waiting: the future of the completion's group commit, done
        with None or the error ``complete`` would raise; None, nothing sent, while not
        connected."""
        store = self.transport.ready
        if store is None:
            return None
        return self._enqueue(store, task, variables, local_variables)

    def _enqueue(
        self,
        store: Store,
        task: ExternalTask,
        variables: Mapping[str, TypedValue],
        local_variables: Mapping[str, TypedValue],
    ) -> asyncio.Future[Exception | None]:
        item = Completion(task.id, task.worker_id, variables, local_variables, task.lock_token)
        result: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self._completions.append((item, result))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit(store))
        return result

    async def _commit(self, store: Store) -> None:
        """Send the waiting completions in batches until none is left; each waiter gets its
        own result (or the error that failed its whole batch). A batch and the fetch-ahead
        started beside it leave in one write."""
        coalesce_writes()
        while self._completions:
            batch = [(c, f) for c, f in self._completions[:_COMPLETE_BATCH] if not f.done()]
            del self._completions[:_COMPLETE_BATCH]  # a cancelled waiter's item is dropped
            if not batch:
                continue
            request = self._request
            if (
                request is not None
                and self.transport.fetch_ahead
                and not self.resting
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
                    waiter.set_result(None if outcome is None else self._translated(outcome))

    def _translated(self, error: Exception) -> Exception:
        """The error as the transport raises it (TaskLost, Rejected, Unavailable), a bug's as is."""
        try:
            with self.transport.translated:
                raise error
        except Exception as exc:
            return exc

    async def failure(
        self,
        task: ExternalTask,
        error_message: str,
        error_details: str | None,
        retries: int,
        retry_timeout: int,
    ) -> None:
        await self.transport.failure(task, error_message, error_details, retries, retry_timeout)

    async def bpmn_error(
        self,
        task: ExternalTask,
        error_code: str,
        error_message: str | None,
        variables: Mapping[str, TypedValue],
    ) -> None:
        await self.transport.bpmn_error(task, error_code, error_message, variables)

    async def extend_lock(self, task: ExternalTask, new_duration: int) -> None:
        await self.transport.extend_lock(task, new_duration)

    async def unlock(self, task: ExternalTask) -> None:
        await self.transport.unlock(task)

    async def aclose(self) -> None:
        """Stop the lane: its committer is cancelled, its fetch-ahead awaited (it ends within a
        round trip or the socket timeout) and what it locked ahead unlocked. The transport's
        ``aclose`` closes every lane."""
        if self._committer is not None:  # first: it may start fetches ahead
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
            self._committer = None
        if self._ahead_fetch is not None:
            await asyncio.shield(self._ahead_fetch)
        if self._giving_back is not None:
            await asyncio.shield(self._giving_back)
        store = self.transport.opened
        if self._ahead and store is not None:
            await self._unlock_ahead(store)
