"""Signal events across process instances (Camunda's SignalEventReceivedCmd and
ThrowSignalEventActivityBehavior): ``POST /signal`` and every signal throw or end event
broadcast a signal to every signal subscription of that name, in every instance.

Camunda delivers a signal in the transaction that throws it. Here an instance's step commits
alone (``advance.lua``, under its own version), so a throw is delivered after it:

- **Durable**: the step that throws writes the throw into its partition's ``sig`` hash in the
  same script that commits it (a ``POST /signal`` writes it with one HSET first). A throw that
  committed is never lost, whatever process dies after.
- **Once per waiter**: each waiter is stepped by its own version-checked command
  (``engine.receive_signal``). A subscription takes a throw only if it was created no later
  than the throw's millisecond, and it remembers the last throws it took
  (``EventSubscription.taken``), so delivering a throw again, after a crash or by two
  deliverers at once, wakes nobody twice (unless the subscription took more than
  ``engine.state.TAKEN`` other throws of that signal in between), and a subscription made after
  the throw is not woken.
- **Every waiter**: the instances holding a subscription to the signal are in the per-partition
  ``msg:<NUL>signal:<name>`` sets (kept by ``advance.lua``); delivery walks them with SSCAN,
  which returns every member present from the start to the end of the walk: every subscription
  that exists when the throw commits and is still open when it is reached.
- **Bounded**: the request that committed the throw delivers it at once, but to at most
  ``INLINE_DELIVERIES`` instances (throws made by those deliveries included: they are queued,
  not nested); the rest, and any throw whose deliverer died, is delivered by the scheduler's
  passes, ``budget`` instances per partition and pass, each throw resuming where the last pass
  stopped (its entry keeps the partition and SSCAN cursor). A throw leaves ``sig`` once every
  partition has been walked.

A thrown signal also starts an instance of every latest process with a signal start event for
its name (``broker.start_events``): ``POST /signal`` starts them before it answers; the entry of
a throw or end event's throw is marked (``"st"``), and the deliverer that first claims it (a
``SET NX`` of ``sgs:<throw id>``) starts them, then clears the mark, so two deliverers, or one
that died after starting them, never start them twice (one dying between its claim and the
starts loses them).

A waiter whose step fails (say an expression after the catch event cannot be evaluated) is
logged and passed by; it keeps waiting. Camunda would fail the whole throw instead.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import orjson

from redtask.broker import engine, variables
from redtask.broker.connection import BACKEND_ERRORS
from redtask.broker.errors import InstanceNotFound
from redtask.broker.executor import Executor, Found, InstanceBusy, Ready, Write
from redtask.broker.instance_repository import (
    SIGNAL_SUBSCRIBER,
    SIGNAL_WAITERS,
    InstanceRepository,
    signal_entry,
)
from redtask.broker.instance_signals import NoSignalSubscription, SignalExecutionNotFound
from redtask.broker.store_base import Clock

if TYPE_CHECKING:
    from redtask.broker.start_events import StartEvents

log = logging.getLogger(__name__)

INLINE_DELIVERIES = 200
"""Instances the request that threw a signal steps before it answers (the scheduler: the rest)."""
SCAN_COUNT = 100
START_CLAIM_S = 86_400
"""How long the claim to start a throw's signal start events is kept (its throw is delivered
long before)."""
Throw = tuple[int, str]  # (partition, throw id)
_queued: ContextVar[list[Throw] | None] = ContextVar("_queued", default=None)


class SignalDelivery:
    def __init__(self, repo: InstanceRepository, executor: Executor, clock: Clock) -> None:
        self.repo = repo
        self.executor = executor
        self.clock = clock
        self.starts: StartEvents | None = None  # signal start events (the store's)

    async def throw(
        self,
        signal_name: str,
        execution_id: str | None = None,
        raw_variables: Mapping[str, Any] | None = None,
        *,
        tenant_id: str | None = None,
        without_tenant_id: bool = False,
    ) -> None:
        """Deliver a signal event (``POST /signal``): to every subscription of that name, or only
        to those of ``execution_id``; ``raw_variables`` are set from each execution reached.
        Without ``execution_id`` it also starts an instance of every latest process definition
        with a signal start event for ``signal_name`` (of ``tenant_id`` only, or without tenant
        with ``without_tenant_id``), with ``raw_variables``.

        Raises InvalidVariable; for an ``execution_id``, SignalExecutionNotFound (unknown) or
        NoSignalSubscription (it holds no subscription to the signal).
        """
        typed = variables.normalize(raw_variables)
        throw_id, now = str(uuid.uuid4()), self.clock()
        if execution_id is not None:
            await self._to_execution(signal_name, (now, throw_id), typed, execution_id)
            return
        keys = self.repo.keys
        partition = keys.partition_of(throw_id)
        entry = signal_entry(signal_name, now, typed)
        await self.repo.db.execute("HSET", keys.signal_throws(partition), throw_id, entry)
        await self.deliver_new(partition, [throw_id])
        if self.starts is not None:
            tenant_set = tenant_id is not None or without_tenant_id
            for match in await self.starts.matches("signal", signal_name, tenant_id, tenant_set):
                await self.starts.start(match, raw_variables)

    async def deliver_new(self, partition: int, throw_ids: list[str]) -> None:
        """Deliver throws just committed to up to INLINE_DELIVERIES instances in all; a throw
        made by one of these deliveries joins the queue instead of nesting. Never raises for a
        delivery that failed (the throw stays in ``sig``): the step that threw is committed."""
        queued = _queued.get()
        if queued is not None:
            queued.extend((partition, i) for i in throw_ids)
            return
        queue: list[Throw] = [(partition, i) for i in throw_ids]
        token = _queued.set(queue)
        try:
            budget = INLINE_DELIVERIES
            while queue and budget > 0:
                throw_partition, throw_id = queue.pop(0)
                budget -= await self._deliver(throw_partition, throw_id, budget)
        except BACKEND_ERRORS as exc:
            # the step that threw is committed and so is its throw: the scheduler delivers it
            log.warning("signal delivery left to the scheduler: %s", exc)
        finally:
            _queued.reset(token)

    async def deliver_pending(self, budget: int) -> int:
        """A scheduler pass: the throws left in each partition's ``sig``, up to ``budget``
        instances stepped per partition; returns how many instances were visited."""
        keys, visited = self.repo.keys, 0
        for partition in range(keys.partitions):
            left = budget
            _, page = await self.repo.db.execute(
                "HSCAN", keys.signal_throws(partition), 0, "COUNT", budget
            )
            for throw_id in list(page)[: len(page)] if isinstance(page, dict) else page[::2]:
                if left <= 0:
                    break
                done = await self._deliver(partition, str(throw_id), left)
                left -= done
                visited += done
        return visited

    async def _deliver(self, partition: int, throw_id: str, budget: int) -> int:
        """Walk the throw's waiters from where its entry says, stepping up to about ``budget``
        instances (a whole SSCAN page at least); the instances visited."""
        keys, db = self.repo.keys, self.repo.db
        raw = await db.execute("HGET", keys.signal_throws(partition), throw_id)
        if raw is None:
            return 0
        entry = orjson.loads(raw)
        name, key, values = entry["n"], (int(entry["ms"]), throw_id), entry["v"]
        if entry.pop("st", None):
            claim = keys.signal_start_claim(partition, throw_id)
            if await db.execute("SET", claim, "1", "NX", "EX", START_CLAIM_S):
                await self._start_processes(name)
            await self._save(partition, throw_id, entry)
        visited = 0
        while entry["p"] < keys.partitions:
            waiters = keys.message_waiters(entry["p"], SIGNAL_WAITERS + name)
            cursor, members = await db.execute("SSCAN", waiters, entry["c"], "COUNT", SCAN_COUNT)
            try:
                for instance_id in members:
                    await self._to_instance(str(instance_id), name, key, values)
            except InstanceBusy:  # this page again on the next pass (a no-op for the woken)
                await self._save(partition, throw_id, entry)
                return visited + len(members)
            visited += len(members)
            entry["c"] = str(cursor)
            if entry["c"] == "0":
                entry["p"] += 1
            if visited >= budget and entry["p"] < keys.partitions:
                await self._save(partition, throw_id, entry)
                return visited
        await db.execute("HDEL", keys.signal_throws(partition), throw_id)
        return visited

    async def _start_processes(self, name: str) -> None:
        """The processes a signal thrown by a throw or end event starts (each failure logged)."""
        if self.starts is None:
            return
        for match in await self.starts.matches("signal", name):
            try:
                await self.starts.start(match)
            except Exception as exc:
                if isinstance(exc, BACKEND_ERRORS):
                    raise
                log.error("signal %r did not start %s: %s", name, match.definition.id, exc)

    async def _save(self, partition: int, throw_id: str, entry: dict[str, Any]) -> None:
        # progress only: were the entry already gone, the throw is walked once more, harmlessly
        payload = orjson.dumps(entry)
        await self.repo.db.execute(
            "HSET", self.repo.keys.signal_throws(partition), throw_id, payload
        )

    async def _to_instance(
        self,
        instance_id: str,
        name: str,
        key: tuple[int, str],
        values: Mapping[str, engine.TypedValue],
        execution_id: str | None = None,
    ) -> bool:
        """Step one instance with the throw; whether it reached a subscription. Raises
        InstanceBusy; a failing step is logged and counts as not reached."""

        async def command(found: Found) -> Ready[bool] | Write[bool]:
            if found.state.status != "active":
                return Ready(False)
            step = engine.receive_signal(
                await found.model(),
                found.state,
                name,
                *key,
                values,
                self.clock(),
                found.ids,
                execution_id=execution_id,
                max_bytes=self.repo.settings.max_variables_bytes,
            )
            if step is None:
                return Ready(False)
            write = found.commit(*step)
            return Write(write.send, lambda _: True)

        try:
            return await self.executor.execute(instance_id, command, "signal not delivered")
        except InstanceNotFound:
            return False
        except Exception as exc:
            busy = isinstance(exc, (InstanceBusy, *BACKEND_ERRORS))
            if busy or execution_id is not None:
                raise
            log.error(
                "signal %r not delivered to process instance %s: %s",
                name,
                instance_id,
                exc,
                extra={"process_instance_id": instance_id},
            )
            return False

    async def _to_execution(
        self,
        name: str,
        key: tuple[int, str],
        values: Mapping[str, engine.TypedValue],
        execution_id: str,
    ) -> None:
        instance_id = await self.repo.signalled_instance(execution_id, SIGNAL_SUBSCRIBER)
        if instance_id is None:
            instance_id = await self.repo.signalled_instance(execution_id)
        if instance_id is None:
            try:
                state, _ = await self.repo.read(execution_id)
            except InstanceNotFound:
                raise SignalExecutionNotFound(execution_id) from None
            if state.status != "active":
                raise SignalExecutionNotFound(execution_id)
            raise NoSignalSubscription(execution_id, name)
        if not await self._to_instance(instance_id, name, key, values, execution_id):
            raise NoSignalSubscription(execution_id, name)
