"""Which waiting executions a message reaches: Camunda's CorrelationSet (``POST /message``;
``DefaultCorrelationHandler#correlateMessageToExecutions``).

Pure Python over instance states; ``broker.instance_messages`` feeds it the candidates. Keys
compare typed values as Camunda's variable query does: same type and same value (an untyped
key takes its type from the JSON value, so ``5`` is an Integer and does not match a Long 5);
a key whose value is null matches a variable whose value is null, of any type. Bytes and File
keys are refused with Camunda's messages (a 500 there, a 400 here); Object, Json and Xml keys
compare their serialized text (Camunda cannot query those reliably).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from redtask.broker import dates, engine
from redtask.broker.errors import InvalidArgument

TypedValues = Mapping[str, engine.TypedValue]
_NOT_QUERYABLE = {"Bytes": "ByteArray", "File": "File"}


class InvalidCorrelation(InvalidArgument):
    """A correlation Camunda's engine refuses; ``kind`` is the type of its exception."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class CorrelationSet:
    """The conditions a waiting execution must meet. ``tenant_id_set``: filter by
    ``tenant_id`` (None = only instances without a tenant)."""

    business_key: str | None = None
    process_instance_id: str | None = None
    correlation_keys: TypedValues = field(default_factory=dict)
    local_correlation_keys: TypedValues = field(default_factory=dict)
    tenant_id: str | None = None
    tenant_id_set: bool = False

    def __post_init__(self) -> None:
        """Camunda's checks, in its order. Raises InvalidCorrelation."""
        if self.process_instance_id is not None and self.tenant_id_set:
            raise InvalidCorrelation(
                "ENGINE-13028 Cannot specify a tenant-id when correlate a message to a single "
                "process instance.",
                "BadUserRequestException",
            )
        for keys in (self.correlation_keys, self.local_correlation_keys):
            for typed in keys.values():
                kind = _NOT_QUERYABLE.get(typed["type"])
                if kind is not None:
                    raise InvalidCorrelation(
                        f"Variables of type {kind} cannot be used to query",
                        "ProcessEngineException",
                    )

    @property
    def tenant_filter(self) -> tuple[str | None, bool]:
        """(tenant id, whether it filters) for the message start events."""
        return self.tenant_id, self.tenant_id_set

    def executions(self, state: engine.InstanceState, message_name: str) -> list[str]:
        """The ids of the executions of ``state`` that wait for the message and match."""
        if (
            (self.business_key is not None and state.business_key != self.business_key)
            or (self.process_instance_id not in (None, state.instance_id))
            or (self.tenant_id_set and state.tenant_id != self.tenant_id)
            or not _all_equal(self.correlation_keys, state.variables)
        ):
            return []
        return [
            execution_id
            for execution_id, local in engine.message_waiters(state, message_name)
            if _all_equal(self.local_correlation_keys, local)
        ]

    def __str__(self) -> str:
        """Java's ``CorrelationSet.toString()``, as Camunda's ENGINE-13031 message shows it."""
        return (
            f"CorrelationSet [businessKey={_java(self.business_key)}, "
            f"processInstanceId={_java(self.process_instance_id)}, processDefinitionId=null, "
            f"correlationKeys={_java_map(self.correlation_keys)}, "
            f"localCorrelationKeys={_java_map(self.local_correlation_keys)}, "
            f"tenantId={_java(self.tenant_id)}, isTenantIdSet={_java(self.tenant_id_set)}, "
            "isExecutionsOnly=false]"
        )


def _all_equal(keys: TypedValues, variables: TypedValues) -> bool:
    return all(name in variables and _same(variables[name], want) for name, want in keys.items())


def _same(have: engine.TypedValue, want: engine.TypedValue) -> bool:
    if want.get("value") is None:
        return have.get("value") is None
    if have["type"] != want["type"] or have.get("value") is None:
        return False
    if want["type"] == "Date":
        return dates.parse_datetime(have["value"]) == dates.parse_datetime(want["value"])
    return bool(have["value"] == want["value"])


def _java(value: object) -> str:
    """Java's String.valueOf for the values a correlation set holds."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _java_map(keys: TypedValues) -> str:
    """A VariableMapImpl's toString (null when no key was given), in Java's HashMap order.
    Values print as Java prints String, integer and boolean values; a Date prints as its REST
    text and a Double as Python does (Java's Date and Double.toString differ)."""
    if not keys:
        return "null"
    lines = [
        f"  {name} => Untyped value '{_java(keys[name].get('value'))}', isTransient = false"
        for name in _hash_order(list(keys))
    ]
    return "{\n" + "\n".join(lines) + "\n}"


def _hash_order(names: list[str]) -> list[str]:
    """The iteration order of a java.util.HashMap holding ``names`` (inserted in this order):
    by bucket of the spread String.hashCode, then insertion order within a bucket."""
    capacity = 16
    while len(names) > capacity * 3 // 4:
        capacity *= 2

    def bucket(name: str) -> int:
        units = name.encode("utf-16-be")
        h = 0
        for i in range(0, len(units), 2):
            h = (31 * h + int.from_bytes(units[i : i + 2], "big")) & 0xFFFFFFFF
        return (h ^ (h >> 16)) & (capacity - 1)

    return sorted(names, key=bucket)  # sorted() is stable: insertion order within a bucket
