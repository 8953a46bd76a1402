"""The direct-Redis transport: the broker's store in-process, no HTTP hop. Completions present
the lock token, so a worker whose lock was taken over cannot win even under a shared worker id."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from broker import model
from broker.connection import BACKEND_ERRORS
from broker.definitions import Definitions
from broker.errors import (
    ConfigurationError,
    InvalidArgument,
    LockExpired,
    StaleLock,
    TaskNotFound,
    WorkerMismatch,
)
from broker.settings import Settings
from broker.store import Store, open_store
from worker.errors import Rejected, TaskLost, Unavailable
from worker.task import ExternalTask
from worker.transport.base import Subscription
from worker.values import TypedValue

log = logging.getLogger(__name__)
_LOST = (TaskNotFound, WorkerMismatch, LockExpired, StaleLock)
# while waiting for a wake-up, look anyway this often (a wake-up lost during a reconnect)
_RECHECK_S = 1.0


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


@contextlib.asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    """Broker and Redis errors as the transport's three kinds."""
    try:
        yield
    except _LOST as exc:
        raise TaskLost(str(exc)) from exc
    except (InvalidArgument, ConfigurationError) as exc:
        raise Rejected(str(exc)) from exc
    except BACKEND_ERRORS as exc:
        raise Unavailable(f"redis: {exc!r}") from exc


class RedisTransport:
    """Uses ``store`` if given, else connects with ``settings`` (REDTASK_* environment) on first
    use, so a worker started before Redis waits for it instead of failing."""

    def __init__(self, settings: Settings | None = None, *, store: Store | None = None) -> None:
        self.settings = settings or Settings()
        self._store = store
        self._owns_store = store is None
        self._listener: asyncio.Task[None] | None = None
        self._topics: frozenset[str] = frozenset()
        self._woken = asyncio.Event()
        self._generation = 0

    async def store(self) -> Store:
        if self._store is None:
            async with _translated():
                self._store = await open_store(self.settings)
        if self._store.models is None:  # tasks of processes advance their instance
            self._store.models = Definitions.of(self._store).get_model
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(self._store))
        return self._store

    async def _listen(self, store: Store) -> None:
        """Turn wake-ups of our topics into a new generation; reconnects after Redis restarts."""
        while True:
            try:
                async for topic in store.wake_ups():
                    if topic in self._topics:
                        self._wake()
            except BACKEND_ERRORS as exc:
                log.debug("wake-up subscription lost (%r); resubscribing", exc)
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
        topics = [topic_request(s) for s in subscriptions]
        self._topics = frozenset(s.topic for s in subscriptions)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_ms / 1000
        while True:
            generation, woken = self._generation, self._woken
            async with _translated():
                locked = await _uncancelled_fetch(
                    store,
                    store.fetch_and_lock(worker_id, max_tasks, topics, use_priority=use_priority),
                )
            remaining = deadline - loop.time()
            if locked or remaining <= 0:
                return [task_from_model(t) for t in locked]
            if generation == self._generation:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), min(remaining, _RECHECK_S))

    async def complete(
        self,
        task: ExternalTask,
        variables: Mapping[str, TypedValue],
        local_variables: Mapping[str, TypedValue],
    ) -> None:
        store = await self.store()
        async with _translated():
            await store.complete(
                task.id, task.worker_id, variables, local_variables, lock_token=task.lock_token
            )

    async def failure(
        self,
        task: ExternalTask,
        error_message: str,
        error_details: str | None,
        retries: int,
        retry_timeout: int,
    ) -> None:
        store = await self.store()
        async with _translated():
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
        async with _translated():
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
        async with _translated():
            await store.extend_lock(
                task.id, task.worker_id, new_duration, lock_token=task.lock_token
            )

    async def unlock(self, task: ExternalTask) -> None:
        store = await self.store()
        async with _translated():
            await store.unlock(task.id)

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._store is not None and self._owns_store:
            await self._store.close()
            self._store = None


async def _uncancelled_fetch(
    store: Store, fetch: Coroutine[Any, Any, list[model.ExternalTask]]
) -> list[model.ExternalTask]:
    """Run a fetch so that tasks it locked are never stranded: if we are cancelled while the
    script runs, wait for its reply and unlock what it locked before passing the cancel on."""
    running = asyncio.ensure_future(fetch)
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            for task in await running:
                await store.unlock(task.id)
        raise
