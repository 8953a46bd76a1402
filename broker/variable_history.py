"""Historic variable instances (Camunda's HistoricVariableInstanceQuery): the variables of the
running and kept process instances, read from each instance's last state, so an ended
instance shows the final values of its process variables. Local variables are those of the
scopes still running; a scope that ended took its locals with it.

A variable's id is ``<process instance id>:<UUID>``, the UUID derived from its scope and name,
so the same variable keeps its id and a lookup by id reads one instance. Its createTime is the
time the step that created it recorded (``activity_history.created_field``); a variable a
failure set on a waiting task has none (null).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redtask.broker import paging
from redtask.broker.activity_history import created_field
from redtask.broker.engine import InstanceState, TypedValue
from redtask.broker.history import HistoricInstance, History, HistoryQuery
from redtask.broker.instance_repository import InstanceRepository
from redtask.broker.keys import Keys
from redtask.broker.query import compare
from redtask.broker.redis_layer import RedisLayer

_IDS = uuid.UUID("6f0d6c2e-5a43-4c38-9f0e-2f4c1b7d9a10")  # the namespace of variable ids
# Camunda's type names for variableTypeIn; every non-primitive is also "serializable"
_SERIALIZABLE = {"Object", "Json", "Xml"}


def variable_id(instance_id: str, scope_id: str, name: str) -> str:
    return f"{instance_id}:{uuid.uuid5(_IDS, f'{scope_id}|{name}')}"


@dataclass(frozen=True, slots=True)
class HistoricVariable:
    id: str
    name: str
    value: TypedValue
    instance: HistoricInstance
    execution_id: str
    activity_instance_id: str
    create_time: int | None


@dataclass(frozen=True, slots=True)
class VariableHistoryQuery:
    """HistoricVariableInstanceQueryDto's filters. ``value``: compared with ``variable_name``'s
    value when ``has_value``; ``never``: a filter nothing matches (tasks, cases)."""

    process_instance_id: str | None = None
    process_instance_id_in: tuple[str, ...] | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    variable_name: str | None = None
    variable_name_like: str | None = None
    has_value: bool = False
    value: Any = None
    names_ignore_case: bool = False
    values_ignore_case: bool = False
    variable_type_in: tuple[str, ...] | None = None
    execution_id_in: tuple[str, ...] | None = None
    activity_instance_id_in: tuple[str, ...] | None = None
    tenant_id_in: tuple[str, ...] | None = None
    without_tenant_id: bool = False
    variable_id: str | None = None
    never: bool = False

    def matches(self, v: HistoricVariable) -> bool:
        if self.variable_id is not None and v.id != self.variable_id:
            return False
        within = (
            (v.execution_id, self.execution_id_in),
            (v.activity_instance_id, self.activity_instance_id_in),
        )
        if any(allowed is not None and value not in allowed for value, allowed in within):
            return False
        if self.variable_name is not None and not compare(
            v.name, "eq", self.variable_name, self.names_ignore_case
        ):
            return False
        like = self.variable_name_like
        if like is not None and not compare(v.name, "like", like, self.names_ignore_case):
            return False
        if self.has_value and not compare(
            v.value.get("value"), "eq", self.value, self.values_ignore_case
        ):
            return False
        kinds = self.variable_type_in
        kind = str(v.value.get("type"))
        return (
            kinds is None
            or kind.lower() in kinds
            or ("serializable" in kinds and kind in _SERIALIZABLE)
        )

    def instances(self) -> HistoryQuery:
        return HistoryQuery(
            process_instance_id=self.process_instance_id,
            process_instance_ids=self.process_instance_id_in,
            process_definition_id=self.process_definition_id,
            process_definition_key=self.process_definition_key,
            tenant_id_in=self.tenant_id_in,
            without_tenant_id=self.without_tenant_id,
            never=self.never,
        )


VARIABLE_SORT: dict[str, Callable[[HistoricVariable], Any]] = {
    "instanceId": lambda v: v.instance.id,
    "variableName": lambda v: v.name,
    "tenantId": lambda v: v.instance.tenant_id,
}


def _scopes(state: InstanceState) -> list[tuple[str, str, dict[str, TypedValue]]]:
    """(execution id, activity instance id, variables) of the process and each running scope."""
    found = [(state.instance_id, state.instance_id, dict(state.variables))]
    for e in state.executions:
        if e.parent_id is not None and e.variables:
            found.append((e.id, e.activity_instance_id or state.instance_id, dict(e.variables)))
    return found


class VariableHistory:
    def __init__(
        self, db: RedisLayer, keys: Keys, history: History, instances: InstanceRepository
    ) -> None:
        self.db = db
        self.keys = keys
        self.history = history
        self.instances = instances

    async def query(
        self,
        query: VariableHistoryQuery,
        sorting: Sequence[tuple[str, str]] = (),
        first_result: int | None = None,
        max_results: int | None = None,
    ) -> list[HistoricVariable]:
        """The historic variables ``query`` matches, sorted (ties by id) and paged."""
        kept = await self.history.query_history(query.instances())
        states = await self.instances.states(i.id for i in kept)
        kept = [i for i in kept if i.id in states]
        scopes = [_scopes(states[i.id]) for i in kept]
        created = await self.db.execute_many(
            (
                "HMGET",
                self.keys.activities(i.id),
                "-",  # HMGET needs a field even for an instance without variables
                *(created_field(scope, n) for scope, _, names in found for n in names),
            )
            for i, found in zip(kept, scopes, strict=True)
        )
        hits = []
        for instance, found, times in zip(kept, scopes, created, strict=True):
            at = iter(times[1:])
            for scope, activity, values in found:
                for name, value in values.items():
                    when = next(at)
                    v = HistoricVariable(
                        variable_id(instance.id, scope, name),
                        name,
                        value,
                        instance,
                        scope,
                        activity,
                        None if when is None else int(when),
                    )
                    if query.matches(v):
                        hits.append(v)
        return paging.sort_and_page(
            hits, VARIABLE_SORT, sorting, first_result, max_results, tie_break=paging.by_id
        )

    async def get(self, variable: str) -> HistoricVariable | None:
        """One historic variable by id; None when unknown."""
        instance, _, _ = variable.partition(":")
        found = await self.query(
            VariableHistoryQuery(process_instance_id=instance, variable_id=variable)
        )
        return found[0] if found else None
