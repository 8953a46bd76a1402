"""External-task queries (Camunda's ExternalTaskQueryDto): filters, sorting, paging.

Pure Python over ExternalTask records; the store feeds it the tasks it scans and, for the
filters on process definition names, the names of their definitions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from redtask.broker.errors import InvalidArgument
from redtask.broker.like import like
from redtask.broker.model import ExternalTask

SORT_FIELDS: dict[str, Callable[[ExternalTask], Any]] = {
    "id": lambda t: t.id,
    "lockExpirationTime": lambda t: t.lock_expiration_time,
    "processInstanceId": lambda t: t.process_instance_id,
    "processDefinitionId": lambda t: t.process_definition_id,
    "processDefinitionKey": lambda t: t.process_definition_key,
    "tenantId": lambda t: t.tenant_id,
    "taskPriority": lambda t: t.priority,
    "createTime": lambda t: t.create_time,
}
OPERATORS = ("eq", "neq", "gt", "gteq", "lt", "lteq", "like", "notLike")
NO_NAMES: Mapping[str, str | None] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class VariableCondition:
    name: str
    operator: str
    value: Any

    def __post_init__(self) -> None:
        if self.operator not in OPERATORS:
            raise InvalidArgument(f"Invalid process variable comparator specified: {self.operator}")


@dataclass(frozen=True, slots=True)
class TaskQuery:
    external_task_id: str | None = None
    external_task_id_in: tuple[str, ...] | None = None
    topic_name: str | None = None
    worker_id: str | None = None
    locked: bool = False
    not_locked: bool = False
    with_retries_left: bool = False
    no_retries_left: bool = False
    lock_expiration_after: int | None = None
    lock_expiration_before: int | None = None
    activity_id: str | None = None
    activity_id_in: tuple[str, ...] | None = None
    execution_id: str | None = None
    process_instance_id: str | None = None
    process_instance_id_in: tuple[str, ...] | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    process_definition_key_in: tuple[str, ...] | None = None
    process_definition_name: str | None = None
    process_definition_name_like: str | None = None
    tenant_id_in: tuple[str, ...] | None = None
    active: bool = False
    suspended: bool = False
    priority_higher_than_or_equals: int | None = None
    priority_lower_than_or_equals: int | None = None
    process_variables: tuple[VariableCondition, ...] = ()
    variable_names_ignore_case: bool = False
    variable_values_ignore_case: bool = False

    @property
    def by_definition_name(self) -> bool:
        """Whether matching needs the names of the tasks' process definitions."""
        return self.process_definition_name is not None or (
            self.process_definition_name_like is not None
        )

    def matches(
        self, t: ExternalTask, now_ms: int, definition_names: Mapping[str, str | None] = NO_NAMES
    ) -> bool:
        """Whether ``t`` matches at ``now_ms``; ``definition_names`` maps process definition
        ids to names (needed only when ``by_definition_name``)."""
        if self.by_definition_name and not self._name_matches(t, definition_names):
            return False
        locked_now = t.lock_expiration_time is not None and t.lock_expiration_time > now_ms
        checks: list[bool] = [
            self.external_task_id is None or t.id == self.external_task_id,
            self.external_task_id_in is None or t.id in self.external_task_id_in,
            self.topic_name is None or t.topic_name == self.topic_name,
            self.worker_id is None or t.worker_id == self.worker_id,
            not self.locked or locked_now,
            # Camunda: notLocked = no expiry or one strictly in the past
            not self.not_locked
            or t.lock_expiration_time is None
            or t.lock_expiration_time < now_ms,
            not self.with_retries_left or t.retries is None or t.retries > 0,
            not self.no_retries_left or t.retries == 0,
            self.activity_id is None or t.activity_id == self.activity_id,
            self.activity_id_in is None or t.activity_id in self.activity_id_in,
            self.execution_id is None or t.execution_id == self.execution_id,
            self.process_instance_id is None or t.process_instance_id == self.process_instance_id,
            self.process_instance_id_in is None
            or t.process_instance_id in self.process_instance_id_in,
            self.process_definition_id is None
            or t.process_definition_id == self.process_definition_id,
            self.process_definition_key is None
            or t.process_definition_key == self.process_definition_key,
            self.process_definition_key_in is None
            or t.process_definition_key in self.process_definition_key_in,
            self.tenant_id_in is None or t.tenant_id in self.tenant_id_in,
            not self.active or not t.suspended,
            not self.suspended or t.suspended,
            self.priority_higher_than_or_equals is None
            or t.priority >= self.priority_higher_than_or_equals,
            self.priority_lower_than_or_equals is None
            or t.priority <= self.priority_lower_than_or_equals,
        ]
        if not all(checks):
            return False
        if self.lock_expiration_after is not None and not (
            t.lock_expiration_time is not None
            and t.lock_expiration_time > self.lock_expiration_after
        ):
            return False
        if self.lock_expiration_before is not None and not (
            t.lock_expiration_time is not None
            and t.lock_expiration_time < self.lock_expiration_before
        ):
            return False
        return all(self._variable_matches(t, c) for c in self.process_variables)

    def _name_matches(self, t: ExternalTask, names: Mapping[str, str | None]) -> bool:
        """Camunda joins the definition: a standalone task, a nameless or a deleted definition
        has a NULL name, which neither ``=`` nor ``LIKE`` matches."""
        name = names.get(t.process_definition_id or "")
        if name is None:
            return False
        wanted, like = self.process_definition_name, self.process_definition_name_like
        return (wanted is None or name == wanted) and (like is None or compare(name, "like", like))

    def _variable_matches(self, t: ExternalTask, cond: VariableCondition) -> bool:
        names = t.variables
        if self.variable_names_ignore_case:
            names = {k.lower(): v for k, v in t.variables.items()}
        typed = names.get(cond.name.lower() if self.variable_names_ignore_case else cond.name)
        if typed is None:
            return False
        return compare(
            typed.get("value"), cond.operator, cond.value, self.variable_values_ignore_case
        )


def compare(actual: Any, op: str, expected: Any, ignore_case: bool = False) -> bool:
    if ignore_case and isinstance(actual, str) and isinstance(expected, str):
        actual, expected = actual.lower(), expected.lower()
    if op in ("like", "notLike"):
        hit = isinstance(actual, str) and like(actual, str(expected))
        return hit if op == "like" else not hit
    if op == "eq":
        return bool(actual == expected)
    if op == "neq":
        return bool(actual != expected)
    numeric = (int, float)
    comparable = (isinstance(actual, numeric) and isinstance(expected, numeric)) or (
        isinstance(actual, str) and isinstance(expected, str)
    )
    if not comparable or isinstance(actual, bool) or isinstance(expected, bool):
        return False
    result: bool = {
        "gt": actual > expected,
        "gteq": actual >= expected,
        "lt": actual < expected,
        "lteq": actual <= expected,
    }[op]
    return result
