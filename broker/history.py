"""Historic process instances for ``/history/process-instance`` (Camunda's
HistoricProcessInstanceQueryDto): the reads, and the retention that bounds them.

The history is the running instances (``pis``) plus the ended ones still kept (``pih``, scored by
end time, for ``settings.history_ttl_s``). Retention: an ended instance's hash carries an
EXPIRE of the TTL, and its id leaves ``pih`` (its hash deleted too) once the caller's clock is
past end + TTL: a few at each instance end (``advance.lua``) and in bounded batches by the
scheduler (``trim_history.lua``). Until then ``pih`` may list an id whose hash the server
already expired: such ids are skipped here (a read path never writes, so they are not
removed). No query SCANs; filtering, sorting (nulls last, ties by id) and paging happen in
Python.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from redtask.broker import engine
from redtask.broker.errors import raise_for
from redtask.broker.instance_reads import IncidentQuery, InstanceQuery, InstanceReads, sort_and_page
from redtask.broker.instance_repository import InstanceRepository
from redtask.broker.keys import Keys
from redtask.broker.query import VariableCondition, compare
from redtask.broker.redis_layer import RedisLayer
from redtask.broker.settings import Settings
from redtask.broker.store_base import Clock

_FIELDS = ("status", "pd", "pk", "bk", "tn", "start", "end", "ea", "sup", "rpi", "sa")
STATES = {
    "active": "ACTIVE",
    "completed": "COMPLETED",
    "terminated": "EXTERNALLY_TERMINATED",
    "internally_terminated": "INTERNALLY_TERMINATED",
}


@dataclass(frozen=True, slots=True)
class HistoricInstance:
    """A process instance, running or ended; times are epoch ms (``end`` None while running).
    ``state`` is Camunda's: ACTIVE, COMPLETED, EXTERNALLY_TERMINATED or INTERNALLY_TERMINATED
    (a called instance its caller ended); ``end_activity_id`` the end event that completed it
    (None while it runs, and when it was deleted); ``super_instance_id``: the instance that
    called it, ``root_instance_id`` the root of its call tree (None: itself);
    ``start_activity_id`` the message, signal or timer start event it started at, if any."""

    id: str
    definition_id: str
    definition_key: str | None
    business_key: str | None
    tenant_id: str | None
    state: str
    start: int
    end: int | None
    end_activity_id: str | None = None
    super_instance_id: str | None = None
    root_instance_id: str | None = None
    start_activity_id: str | None = None  # set when it started at another than the initial one

    @property
    def duration(self) -> int | None:
        return None if self.end is None else self.end - self.start


HISTORY_SORT: dict[str, Callable[[HistoricInstance], Any]] = {
    "instanceId": lambda i: i.id,
    "definitionId": lambda i: i.definition_id,
    "definitionKey": lambda i: i.definition_key,
    "businessKey": lambda i: i.business_key,
    "startTime": lambda i: i.start,
    "endTime": lambda i: i.end,
    "duration": lambda i: i.duration,
    "tenantId": lambda i: i.tenant_id,
}


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """Camunda's HistoricProcessInstanceQueryDto filters redtask can answer. Dates are epoch ms,
    compared inclusively (as Camunda's SQL does). ``states``: every state the instance must be
    (two different ones match nothing); ``never``: a filter no instance matches;
    ``process_definition_id_in``: the definitions a name filter selected; ``incident``: an open
    incident the instance must have (redtask keeps no resolved ones); ``activity_id_in`` and
    ``active_activity_id_in`` (the same for redtask): an activity a running instance waits in.
    Variables are those of the instance's last state."""

    process_instance_id: str | None = None
    process_instance_ids: tuple[str, ...] | None = None
    process_definition_id: str | None = None
    process_definition_id_in: tuple[str, ...] | None = None
    process_definition_key: str | None = None
    process_definition_key_in: tuple[str, ...] | None = None
    process_definition_key_not_in: tuple[str, ...] | None = None
    business_key: str | None = None
    business_key_in: tuple[str, ...] | None = None
    business_key_like: str | None = None
    without_tenant_id: bool = False
    incident: IncidentQuery | None = None
    activity_id_in: tuple[str, ...] | None = None
    active_activity_id_in: tuple[str, ...] | None = None
    variables: tuple[VariableCondition, ...] = ()
    variable_names_ignore_case: bool = False
    variable_values_ignore_case: bool = False
    finished: bool = False
    unfinished: bool = False
    states: frozenset[str] = frozenset()
    tenant_id_in: tuple[str, ...] | None = None
    started_before: int | None = None
    started_after: int | None = None
    finished_before: int | None = None
    finished_after: int | None = None
    never: bool = False
    super_process_instance_id: str | None = None
    sub_process_instance_id: str | None = None  # resolved by History.query_history
    root: bool = False

    def matches(self, i: HistoricInstance) -> bool:
        equal = (
            (self.super_process_instance_id, i.super_instance_id),
            (self.process_instance_id, i.id),
            (self.process_definition_id, i.definition_id),
            (self.process_definition_key, i.definition_key),
            (self.business_key, i.business_key),
        )
        if self.never or any(want is not None and want != have for want, have in equal):
            return False
        if (self.finished and i.end is None) or (self.unfinished and i.end is not None):
            return False
        if any(state != i.state for state in self.states):
            return False
        if self.root and i.super_instance_id is not None:
            return False
        if self.process_instance_ids is not None and i.id not in self.process_instance_ids:
            return False
        if self.tenant_id_in is not None and i.tenant_id not in self.tenant_id_in:
            return False
        if not self._matches_more(i):
            return False
        return between(i.start, self.started_after, self.started_before) and (
            (self.finished_after is None and self.finished_before is None)
            or (i.end is not None and between(i.end, self.finished_after, self.finished_before))
        )

    def _matches_more(self, i: HistoricInstance) -> bool:
        within = (
            (i.definition_id, self.process_definition_id_in),
            (i.definition_key, self.process_definition_key_in),
            (i.business_key, self.business_key_in),
        )
        like = self.business_key_like
        return (
            all(allowed is None or value in allowed for value, allowed in within)
            and i.definition_key not in (self.process_definition_key_not_in or ())
            and (like is None or compare(i.business_key, "like", like))
            and not (self.without_tenant_id and i.tenant_id is not None)
        )

    @property
    def needs_state(self) -> bool:
        activities = (self.activity_id_in, self.active_activity_id_in)
        return any(a is not None for a in activities) or bool(self.variables)

    def matches_state(self, i: HistoricInstance, state: engine.InstanceState) -> bool:
        """The filters on the instance's state: only a running instance waits in an activity."""
        activities = [a for a in (self.activity_id_in, self.active_activity_id_in) if a is not None]
        if activities and i.end is not None:
            return False
        return all(
            InstanceQuery(activity_id_in=ids).matches_state(state) for ids in activities
        ) and InstanceQuery(
            variables=self.variables,
            variable_names_ignore_case=self.variable_names_ignore_case,
            variable_values_ignore_case=self.variable_values_ignore_case,
        ).matches_state(state)


def between(value: int | None, after: int | None, before: int | None) -> bool:
    """Whether ``value`` lies within the inclusive bounds given; without bounds anything
    matches, even None (Camunda's date filters: ``startedAfter``, ``finishedBefore`` ...)."""
    if after is None and before is None:
        return True
    return (
        value is not None
        and (after is None or value >= after)
        and (before is None or value <= before)
    )


def _historic(instance_id: str, row: Sequence[str | None]) -> HistoricInstance | None:
    status, pd, pk, bk, tn, start, end, end_activity, sup, root, start_activity = row
    if status not in STATES or start is None:  # the hash expired (or was never written)
        return None
    return HistoricInstance(
        instance_id,
        pd or "",
        pk,
        bk,
        tn,
        STATES[status],
        int(start),
        None if end is None else int(end),
        end_activity,
        sup,
        root,
        start_activity,
    )


class History:
    def __init__(
        self,
        db: RedisLayer,
        keys: Keys,
        settings: Settings,
        clock: Clock,
        instances: InstanceRepository,
        reads: InstanceReads,
    ) -> None:
        self.db = db
        self.keys = keys
        self.settings = settings
        self.clock = clock
        self.instances = instances
        self.reads = reads

    async def trim_history(self, budget: int | None = None) -> tuple[int, bool]:
        """Forget the ended instances kept past ``settings.history_ttl_s``, at most ``budget``
        per partition (default ``settings.scheduler_batch``): (how many, more may be due)."""
        budget = budget or self.settings.scheduler_batch
        args = (self.clock(), self.settings.history_ttl_s * 1000, budget)
        calls = [("trim_history", self.keys.prefix(p), args) for p in range(self.keys.partitions)]
        forgotten, more = 0, False
        for reply in await self.db.call_many(calls):
            if isinstance(reply, Exception):
                raise reply
            raise_for(reply)
            forgotten += int(reply[1])
            more = more or int(reply[2]) == 1
        return forgotten, more

    async def get_historic_instance(self, instance_id: str) -> HistoricInstance | None:
        """A running or kept ended instance; None when unknown or expired."""
        row = await self.db.execute("HMGET", self.keys.instance(instance_id), *_FIELDS)
        return _historic(instance_id, cast(list[str | None], row))

    async def query_history(
        self,
        query: HistoryQuery,
        sorting: Sequence[tuple[str, str]] = (),
        first_result: int | None = None,
        max_results: int | None = None,
    ) -> list[HistoricInstance]:
        hits = [i for i in await self._historic_instances(query) if query.matches(i)]
        if query.sub_process_instance_id is not None:
            sub = await self.get_historic_instance(query.sub_process_instance_id)
            hits = [i for i in hits if sub is not None and i.id == sub.super_instance_id]
        if query.incident is not None and hits:
            incidents = await self.reads.matching_incidents(query.incident)
            with_incident = {i.process_instance_id for i in incidents}
            hits = [i for i in hits if i.id in with_incident]
        if query.needs_state and hits:
            states = await self.instances.states(i.id for i in hits)
            hits = [i for i in hits if i.id in states and query.matches_state(i, states[i.id])]
        return sort_and_page(hits, HISTORY_SORT, sorting, first_result, max_results)

    async def _historic_instances(self, query: HistoryQuery) -> list[HistoricInstance]:
        if query.never:
            return []
        if query.process_instance_id is not None:
            ids: tuple[str, ...] = (query.process_instance_id,)
        elif query.process_instance_ids is not None:
            ids = query.process_instance_ids
        else:
            commands: list[tuple[Any, ...]] = []
            for partition in range(self.keys.partitions):
                if not query.finished:
                    commands.append(("ZRANGE", self.keys.instances(partition), 0, -1))
                if not query.unfinished:
                    commands.append(("ZRANGE", self.keys.history(partition), 0, -1))
            members = cast(list[list[str]], await self.db.execute_many(commands))
            ids = tuple(i for part in members for i in part)
        ids = tuple(dict.fromkeys(ids))
        rows = await self.db.execute_many(("HMGET", self.keys.instance(i), *_FIELDS) for i in ids)
        found = (_historic(i, row) for i, row in zip(ids, rows, strict=True))
        return [i for i in found if i is not None]
