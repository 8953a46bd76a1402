"""Timer start events: the schedule of the latest version of every process that has one, and
the scheduler's pass that starts an instance at each due time (Camunda's TimerStartEventJobHandler).

Each timer start event of a latest version is a *member* ``<definition id>|<start event id>``
of its partition's ``sts`` schedule, scored by its next due time, with the index of that
occurrence in ``stn``. The instance a due time starts lives in the same partition, and
``advance.lua`` creates it only if it *claims* that due time in the same script: the member
must still be at that due time and index, and moves on to the next one (or ends). So two
schedulers racing over one due time start one instance, and a crash leaves either both the
start and the claim or neither.

Which members are wanted follows the definitions (Camunda's BpmnDeployer): deploying a new
version of a process replaces the previous version's timers, deleting it brings back the
timers of the version that is latest again, deleting the last removes them. ``reconcile``
compares the wanted members with the armed ones (``G sta``) and arms or disarms the
difference; deployments and deletions run it at once, and the scheduler again every
``RECONCILE_MS`` in case a process died between a deployment and its reconcile.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, cast

import orjson

from redtask.broker.bpmn import ProcessModel, StartEvent
from redtask.broker.bpmn.cycles import parse_cycle
from redtask.broker.bpmn.timers import TimerError, due_ms
from redtask.broker.connection import BACKEND_ERRORS
from redtask.broker.definition_model import DefinitionNotFound, ProcessDefinition
from redtask.broker.definition_reads import DefinitionReads
from redtask.broker.errors import BrokerError
from redtask.broker.keys import Keys
from redtask.broker.process_start import ProcessStarter, StartTimerTaken
from redtask.broker.redis_layer import RedisLayer
from redtask.broker.store_base import Clock

log = logging.getLogger(__name__)

RECONCILE_MS = 5_000


def timer_starts(model: ProcessModel) -> list[StartEvent]:
    """The timer start events of a process."""
    return [e for e in model.start_events() if e.timer is not None]


def _member(definition_id: str, element_id: str) -> str:
    return f"{definition_id}|{element_id}"


class StartTimers:
    def __init__(
        self,
        db: RedisLayer,
        keys: Keys,
        clock: Clock,
        definitions: DefinitionReads,
        starter: ProcessStarter,
    ) -> None:
        self.db = db
        self.keys = keys
        self.clock = clock
        self.definitions = definitions
        self.starter = starter
        self._reconciled_at: int | None = None

    async def reconcile(self) -> None:
        """Arm the timer start events of every latest version, disarm all others."""
        self._reconciled_at = self.clock()
        stk = await self.db.execute("SMEMBERS", self.keys.timer_start_processes)
        registry = cast(set[str], stk)
        wanted: dict[str, tuple[ProcessDefinition, StartEvent]] = {}
        for entry in sorted(registry):
            tenant, key = orjson.loads(entry)
            latest = await self.definitions.latest_by_key(key, tenant)
            if latest is None:
                continue
            try:
                model = await self.definitions.get_model(latest.id)
            except DefinitionNotFound:
                continue
            for start in timer_starts(model):
                wanted[_member(latest.id, start.id)] = (latest, start)
        armed = cast(set[str], await self.db.execute("SMEMBERS", self.keys.armed_start_timers))
        # each decision is checked again against the latest version just before it is made:
        # a reconcile that read the versions before a concurrent deployment must not undo
        # that deployment's own reconcile
        for member in sorted(set(armed) - set(wanted)):
            if await self._is_latest(member.rpartition("|")[0]):
                continue
            await self.db.call("disarm_start_timer", self._prefix(member), member)
            await self.db.execute("SREM", self.keys.armed_start_timers, member)
        for member, (definition, start) in wanted.items():
            if not await self._is_latest(definition.id):
                continue
            # recorded before it is armed: a crash in between leaves it to be armed again
            await self.db.execute("SADD", self.keys.armed_start_timers, member)
            first = self._first(definition, start)
            if first is not None:
                await self.db.call("arm_start_timer", self._prefix(member), member, *first)

    async def _is_latest(self, definition_id: str) -> bool:
        try:
            definition = await self.definitions.definition(definition_id)
        except DefinitionNotFound:
            return False
        latest = await self.definitions.latest_by_key(definition.key, definition.tenant_id)
        return latest is not None and latest.id == definition_id

    def _first(self, definition: ProcessDefinition, start: StartEvent) -> tuple[int, int] | None:
        """(due ms, index) of the first occurrence from now; None: it never falls due."""
        timer = start.timer
        assert timer is not None and isinstance(timer.value, str)
        now = self.clock()
        try:
            if timer.kind != "cycle":
                return due_ms(timer, now, {}), 0
            return parse_cycle(timer.value, now).first(now)
        except TimerError as exc:  # a duration that ends past the latest supported date
            log.error("timer start event %s of %s never fires: %s", start.id, definition.id, exc)
            return None

    def _prefix(self, member: str) -> str:
        return self.keys.prefix(self.keys.partition_of(member))

    async def fire_due(self, budget: int) -> int:
        """Start an instance for every due time that is due (up to ``budget`` per partition);
        returns how many started. Reconciles first when the last reconcile is old."""
        now = self.clock()
        if self._reconciled_at is None or now - self._reconciled_at >= RECONCILE_MS:
            await self.reconcile()
        started = 0
        for partition in range(self.keys.partitions):
            key = self.keys.start_timers(partition)
            due = await self.db.execute(
                "ZRANGEBYSCORE", key, "-inf", now, "WITHSCORES", "LIMIT", 0, budget
            )
            for member, score in cast(list[Any], due):
                if await self._fire(str(member), int(float(score))):
                    started += 1
        return started

    async def _fire(self, member: str, due: int) -> bool:
        definition_id, _, element_id = member.rpartition("|")
        prefix = self._prefix(member)
        partition = self.keys.partition_of(member)
        index = await self.db.execute("HGET", self.keys.start_timer_index(partition), member)
        if index is None or not str(index).isdigit():
            return False  # disarmed meanwhile
        try:
            definition = await self.definitions.definition(definition_id)
            model = await self.definitions.get_model(definition_id)
        except DefinitionNotFound:
            return False  # the next reconcile disarms it
        claim = self._claim(model, element_id, member, due, int(str(index)))
        if definition.suspended_at(self.clock()):
            # Camunda ignores the job of a suspended definition: the due time passes unused
            await self.db.call("skip_start_timer", prefix, orjson.dumps(claim))
            return False
        try:
            await self.starter.start(definition, start_event_id=element_id, claim=claim)
        except StartTimerTaken:
            return False
        except BACKEND_ERRORS:
            raise
        except Exception as exc:  # the first step failed: logged, the schedule moves on
            log.error(
                "timer start event %s of %s could not start an instance: %s",
                element_id,
                definition_id,
                exc,
                extra={"process_definition_id": definition_id},
                exc_info=not isinstance(exc, BrokerError),
            )
            await self.db.call("skip_start_timer", prefix, orjson.dumps(claim))
            return False
        return True

    def _claim(
        self, model: ProcessModel, element_id: str, member: str, due: int, index: int
    ) -> dict[str, Any]:
        """The claim of this due time and the occurrence after it."""
        start = model.elements[element_id]
        assert isinstance(start, StartEvent) and start.timer is not None
        following = None
        if start.timer.kind == "cycle" and isinstance(start.timer.value, str):
            try:
                following = parse_cycle(start.timer.value, due).next(due, index, self.clock())
            except TimerError:
                following = None
        return {
            "m": member,
            "due": due,
            "n": index,
            "next": following[0] if following else None,
            "nn": following[1] if following else None,
        }


def registry_member(tenant_id: str | None, key: str) -> str:
    return orjson.dumps([tenant_id, key]).decode()


def processes_with_timer_starts(
    models: Iterable[tuple[str | None, ProcessModel]],
) -> list[str]:
    """The ``G stk`` members of the processes among ``models`` that have a timer start."""
    return [registry_member(tenant, m.key) for tenant, m in models if timer_starts(m)]
