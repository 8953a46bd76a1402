"""Process instances in Redis: reading their states and committing engine steps.

An instance's hash ``pi:<id>`` holds its engine state (``st``, JSON) and version (``ver``).
Every step is committed by ``advance.lua`` with a version check (compare-and-set); the
executor (``broker.executor``) reads, recomputes and commits again when another step won.
This is the one place that reads states (``read`` for one instance with its version,
``states`` for many in one round trip) and builds ``advance``'s arguments. ``observers`` are
called with every step committed (state and effects, after the script accepted it): the test
kit's record of the elements each instance entered (``redtask.testing``).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson

from redtask.broker import validate
from redtask.broker.activity_history import history_arg
from redtask.broker.engine import Effects, InstanceState, TypedValue
from redtask.broker.engine.errors import InvalidTopic
from redtask.broker.errors import OK, InstanceNotFound, InvalidArgument, JobNotFound
from redtask.broker.keys import Keys
from redtask.broker.redis_layer import RedisLayer
from redtask.broker.settings import Settings
from redtask.broker.store_base import Clock, partition_task_id

NO_TRIGGER: Mapping[str, Any] = {}
StepObserver = Callable[[InstanceState, Effects], None]
SignalSink = Callable[[int, list[str]], Awaitable[None]]
"""Called with a partition and the ids of the signal throws a committed step wrote there."""


# retries of a timer job that never failed, as Camunda's default for jobs
TIMER_RETRIES = 3


@dataclass(frozen=True, slots=True)
class Block:
    """One instance's part of a commit: its new state and effects, the version it was read at
    (0: a new instance, created with ``meta``), its state then, the timer that fired,
    ``status`` "internally_terminated" for a terminated instance that its caller ended, and
    ``claim``: the timer start due time a new instance is created only with."""

    state: InstanceState
    effects: Effects
    expected: int
    before: InstanceState | None = None
    meta: Mapping[str, Any] | None = None
    fired_timer: str | None = None
    status: str | None = None  # what the instance hash records, when not the state's status
    claim: Mapping[str, Any] | None = None  # a timer start's due time (``broker.start_timers``)


class PartitionIds:
    """Ids that land in one partition: an instance's tasks live beside it."""

    def __init__(self, keys: Keys, partition: int) -> None:
        self.keys = keys
        self.partition = partition

    def new_id(self) -> str:
        return partition_task_id(self.partition, self.keys.partitions)

    def new_activity_id(self) -> str:
        return str(uuid.uuid4())


SIGNALLED = "\x00execution:"
"""The ``msg:`` set of ``SIGNALLED + <execution id>`` holds the instance whose execution waits
in a receive task or message catch event, so ``POST /execution/{id}/signal`` finds it. No
message can have that name (XML has no NUL character), and a message sent with it matches
nothing: correlation only looks at executions waiting for that message."""


SIGNAL_WAITERS = "\x00signal:"
"""The ``msg:`` set of ``SIGNAL_WAITERS + <signal name>`` holds the instances with a subscription
to that signal (``broker.signal_delivery`` visits them)."""
SIGNAL_SUBSCRIBER = "\x00subscriber:"
"""The ``msg:`` set of ``SIGNAL_SUBSCRIBER + <execution id>`` holds the instance whose execution
holds a signal subscription, so ``POST /signal`` with an ``executionId`` finds it."""


def messages_waited(state: InstanceState | None) -> set[str]:
    """The message names some execution of the instance waits for or is subscribed to, the
    signal names it is subscribed to, and the index names of its signallable executions."""
    if state is None or state.status != "active":
        return set()
    names = set()
    for e in state.executions:
        if e.wait is not None and e.wait.kind in ("message", "signal"):
            names.add(SIGNALLED + e.id)
            if e.wait.kind == "message":
                names.add(e.wait.ref)
    for subscription in state.subscriptions:
        if subscription.kind == "message":
            names.add(subscription.name)
        else:
            names.add(SIGNAL_WAITERS + subscription.name)
            names.add(SIGNAL_SUBSCRIBER + subscription.execution_id)
    return names


def signal_entry(
    name: str,
    thrown_ms: int,
    variables: Mapping[str, TypedValue] | None = None,
    *,
    starts: bool = False,
) -> str:
    """A signal throw as ``sig`` keeps it: its name, when it was thrown (ms), the variables
    it sets and the delivery's progress (next partition, SSCAN cursor); ``starts``: the
    processes with a signal start event for it are still to be started (``"st"``)."""
    entry: dict[str, Any] = {"n": name, "ms": thrown_ms, "v": dict(variables or {}), "p": 0}
    entry["c"] = "0"
    if starts:
        entry["st"] = 1
    return orjson.dumps(entry).decode()


class InstanceRepository:
    def __init__(self, db: RedisLayer, keys: Keys, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.keys = keys
        self.settings = settings
        self.clock = clock
        self.observers: list[StepObserver] = []
        self.signal_sink: SignalSink | None = None

    def ids(self, instance_id: str) -> PartitionIds:
        return PartitionIds(self.keys, self.keys.partition_of(instance_id))

    async def read(self, instance_id: str) -> tuple[InstanceState, int]:
        """The state and version of an instance (ended ones too, while kept for history).
        Raises InstanceNotFound."""
        raw, version = await self.db.execute("HMGET", self.keys.instance(instance_id), "st", "ver")
        if raw is None:
            raise InstanceNotFound(instance_id)
        return InstanceState.from_json(orjson.loads(raw)), int(str(version))

    async def states(self, instance_ids: Iterable[str]) -> dict[str, InstanceState]:
        """The states of these instances by id, in the order given (unknown ones absent)."""
        ids = list(dict.fromkeys(instance_ids))
        if not ids:
            return {}
        raws = await self.db.execute_many(("HGET", self.keys.instance(i), "st") for i in ids)
        return {
            i: InstanceState.from_json(orjson.loads(raw))
            for i, raw in zip(ids, raws, strict=True)
            if raw is not None
        }

    async def signalled_instance(self, execution_id: str, index: str = SIGNALLED) -> str | None:
        """The instance whose execution ``execution_id`` waits to be signalled (``index``
        SIGNAL_SUBSCRIBER: holds a signal subscription), if any."""
        partition = self.keys.partition_of(execution_id)
        key = self.keys.message_waiters(partition, index + execution_id)
        members = await self.db.execute("SMEMBERS", key)
        return next((str(m) for m in cast(list[Any], members)), None)

    async def message_waiters(self, message_name: str) -> list[str]:
        """The ids of the instances waiting for a message, in partition order, then by id."""
        members = await self.db.execute_many(
            ("SMEMBERS", self.keys.message_waiters(p, message_name))
            for p in range(self.keys.partitions)
        )
        return [i for part in members for i in sorted(map(str, part))]

    async def due_timers(self, partition: int, now: int, budget: int) -> list[str]:
        """Up to ``budget`` timers of a partition due at ``now``, as ``instance|timer``."""
        key = self.keys.timers(partition)
        due = await self.db.execute("ZRANGEBYSCORE", key, "-inf", now, "LIMIT", 0, budget)
        return [str(member) for member in cast(list[Any], due)]

    async def drop_timer(self, partition: int, member: str) -> None:
        """Forget a timer entry whose instance or timer is gone."""
        await self.db.execute("ZREM", self.keys.timers(partition), member)

    async def fail_timer(self, instance_id: str, timer_id: str, message: str) -> list[Any]:
        """Run ``fail_timer``: retry the timer's step later, or park it with a failedJob
        incident when no retries are left. Raises InstanceNotFound."""
        state, _ = await self.read(instance_id)
        timer = next((t for t in state.timers if t.id == timer_id), None)
        pd, pk, tn = await self.db.execute(
            "HMGET", self.keys.instance(instance_id), "pd", "pk", "tn"
        )
        fields = {
            "msg": message,
            "act": timer.element_id if timer else None,
            "ex": timer.execution_id if timer else None,
            "pd": pd,
            "pk": pk,
            "tn": tn,
        }
        return await self.db.call(
            "fail_timer",
            self.keys.prefix(self.keys.partition_of(instance_id)),
            self.clock(),
            instance_id,
            timer_id,
            self.settings.timer_retry_delay_ms,
            TIMER_RETRIES,
            str(uuid.uuid4()),
            orjson.dumps(fields),
        )

    async def set_timer_retries(self, job_id: str, retries: int) -> None:
        """Camunda's setJobRetries for a timer whose step failed. Raises JobNotFound."""
        reply = await self.db.call(
            "set_timer_retries",
            self.keys.prefix(self.keys.partition_of(job_id)),
            self.clock(),
            job_id,
            retries,
            str(uuid.uuid4()),
        )
        if int(reply[0]) != 0:
            raise JobNotFound(job_id)

    async def commit(
        self,
        state: InstanceState,
        effects: Effects,
        expected: int,
        trigger: Mapping[str, Any] = NO_TRIGGER,
        meta: Mapping[str, Any] | None = None,
        fired_timer: str | None = None,
        before: InstanceState | None = None,
        claim: Mapping[str, Any] | None = None,
    ) -> list[Any]:
        """Run ``advance``: write ``state`` and ``effects`` if the instance is still at version
        ``expected`` (0: create it; ``claim``: only with that timer start's due time, see
        ``broker.start_timers``). Returns the script's reply (E_CONFLICT included). Raises
        InvalidTopic, writing nothing, when a new task's computed topic is not a valid one."""
        block = Block(state, effects, expected, before, meta, fired_timer, claim=claim)
        return await self.commit_blocks([block], trigger)

    async def commit_blocks(
        self, blocks: Sequence[Block], trigger: Mapping[str, Any] = NO_TRIGGER
    ) -> list[Any]:
        """Run ``advance`` on the steps of several instances of one partition at once (the
        first one's is the trigger's): all are written, or none. Returns the script's reply
        (the first instance's version). Raises InvalidTopic as :meth:`commit`."""
        now = self.clock()
        args: list[Any] = []
        thrown: list[str] = []
        for i, block in enumerate(blocks):
            throws = [(str(uuid.uuid4()), name) for name in block.effects.signals_thrown]
            thrown += [throw_id for throw_id, _ in throws]
            args += self._block_args(block, now, "task" in trigger and i == 0, throws)
        partition = self.keys.partition_of(blocks[0].state.instance_id)
        reply = await self.db.call(
            "advance",
            self.keys.prefix(partition),
            now,
            self.keys.wake_channel,
            self.settings.history_ttl_s,
            self.settings.finished_log_length,
            orjson.dumps(trigger),
            len(blocks),
            *args,
        )
        if self.observers and int(reply[0]) == OK:
            for block in blocks:
                for observe in self.observers:
                    observe(block.state, block.effects)
        if thrown and self.signal_sink is not None and int(reply[0]) == OK:
            await self.signal_sink(partition, thrown)
        return reply

    def _block_args(
        self, block: Block, now: int, has_trigger: bool, throws: Sequence[tuple[str, str]]
    ) -> list[Any]:
        state, effects = block.state, block.effects
        for t in effects.tasks_created:
            try:
                validate.topic_name(t.topic, self.settings.max_topic_length)
            except InvalidArgument as exc:
                raise InvalidTopic(t.activity_id, "the topic", exc) from None
        tasks = [
            {
                "id": t.id,
                "topic": t.topic,
                "priority": str(t.priority),
                "act": t.activity_id,
                "ai": t.activity_instance_id,
                "ex": t.execution_id,
                "xp": orjson.dumps(dict(t.extension_properties)).decode()
                if t.extension_properties
                else "",
                "eed": "1" if t.error_events else "",
            }
            for t in effects.tasks_created
        ]
        fired = [block.fired_timer] if block.fired_timer else []
        timers = {
            "add": [[t.id, t.due_ms] for t in effects.timers_scheduled],
            "remove": list(effects.timers_cancelled) + fired,
        }
        waited, waiting = messages_waited(block.before), messages_waited(state)
        messages = {"open": sorted(waiting - waited), "close": sorted(waited - waiting)}
        history = history_arg(effects, now, block.expected + 1, has_trigger, state, block.before)
        return [
            state.instance_id,
            block.expected,
            orjson.dumps(state.to_json()),
            block.status or state.status,
            orjson.dumps(block.meta or {}),
            orjson.dumps(tasks),
            orjson.dumps(list(effects.tasks_deleted)),
            orjson.dumps(timers),
            orjson.dumps(messages),
            orjson.dumps(history),
            orjson.dumps([[i, signal_entry(name, now, starts=True)] for i, name in throws]),
            orjson.dumps(block.claim) if block.claim is not None else "",
        ]
