"""Domain objects of the broker (frozen dataclasses) and their conversion from Redis hashes.

Task hash fields (written by the scripts in ``broker/scripts``): t topic, s state (a, l, r, i:
``TaskState``), ct createTime ms, p priority (absent = 0), r retries (absent = null), w worker
id, le lock expiry ms, tok lock token (absent = 0), em error message, ed error details, v.<name>
one typed variable (JSON; standalone tasks only), bk business key, tn tenant id, iid open
incident id. Tasks of process instances (``advance.lua``) also have pi instance id, pd / pk /
pvt definition id / key / version tag, act activity id, ai activity instance id, ex execution
id, xp extension properties (JSON, absent = none) and eed ("1" when the activity has
``camunda:errorEventDefinition`` expressions, which ``handle_failure`` leaves to the engine;
absent = none); their variables live in the instance state (``pi:<id>`` field st).

Incident hash fields: id, ts timestamp ms, task (the configuration: the task id), t topic, msg
incident message, and from the task act, ex, pi, pd, tn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson


class TaskState(StrEnum):
    AVAILABLE = "a"
    LOCKED = "l"
    RETRY = "r"
    INCIDENT = "i"


@dataclass(frozen=True, slots=True)
class NewTask:
    """A standalone task to publish. ``variables`` are Camunda typed values (wire form)."""

    topic: str
    variables: Mapping[str, Any] | None = None
    priority: int = 0
    retries: int | None = None
    business_key: str | None = None
    tenant_id: str | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class TopicRequest:
    """One topic of a fetchAndLock request, with the filters of Camunda's topic DTO."""

    topic_name: str
    lock_duration: int
    variables: tuple[str, ...] | None = None
    local_variables: bool = False
    business_key: str | None = None
    process_definition_id: str | None = None
    process_definition_id_in: tuple[str, ...] | None = None
    process_definition_key: str | None = None
    process_definition_key_in: tuple[str, ...] | None = None
    process_definition_version_tag: str | None = None
    without_tenant_id: bool = False
    tenant_id_in: tuple[str, ...] | None = None
    process_variables: Mapping[str, Any] | None = None
    deserialize_values: bool = False
    include_extension_properties: bool = False


@dataclass(frozen=True, slots=True)
class ExternalTask:
    id: str
    topic_name: str
    state: TaskState
    create_time: int
    priority: int
    retries: int | None
    worker_id: str | None
    lock_expiration_time: int | None
    lock_token: int
    error_message: str | None
    error_details: str | None
    business_key: str | None
    tenant_id: str | None
    variables: dict[str, Any]
    incident_id: str | None = None
    process_instance_id: str | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    process_definition_version_tag: str | None = None
    activity_id: str | None = None
    activity_instance_id: str | None = None
    execution_id: str | None = None
    extension_properties: dict[str, str | None] = field(default_factory=dict)
    suspended: bool = False


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    incident_type: str
    incident_timestamp: int
    configuration: str
    topic_name: str
    incident_message: str | None
    activity_id: str | None
    execution_id: str | None
    process_instance_id: str | None
    process_definition_id: str | None
    tenant_id: str | None


@dataclass(frozen=True, slots=True)
class TopicStats:
    topic_name: str
    available: int
    locked: int
    retrying: int
    incidents: int


def _int(value: str | None) -> int | None:
    return None if value is None else int(value)


def task_from_hash(task_id: str, h: Mapping[str, str]) -> ExternalTask:
    """Build an ExternalTask from the fields of its task hash."""
    return ExternalTask(
        id=task_id,
        topic_name=h["t"],
        state=TaskState(h["s"]),
        create_time=int(h["ct"]),
        priority=int(h.get("p", "0")),
        retries=_int(h.get("r")),
        worker_id=h.get("w"),
        lock_expiration_time=_int(h.get("le")),
        lock_token=int(h.get("tok", "0")),
        error_message=h.get("em"),
        error_details=h.get("ed"),
        business_key=h.get("bk"),
        tenant_id=h.get("tn"),
        variables={k[2:]: orjson.loads(v) for k, v in h.items() if k.startswith("v.")},
        incident_id=h.get("iid"),
        process_instance_id=h.get("pi"),
        process_definition_id=h.get("pd"),
        process_definition_key=h.get("pk"),
        process_definition_version_tag=h.get("pvt"),
        activity_id=h.get("act"),
        activity_instance_id=h.get("ai"),
        execution_id=h.get("ex"),
        extension_properties=orjson.loads(h["xp"]) if "xp" in h else {},
    )


def incident_from_hash(h: Mapping[str, str]) -> Incident:
    return Incident(
        id=h["id"],
        incident_type=h.get("type", "failedExternalTask"),
        incident_timestamp=int(h["ts"]),
        configuration=h["task"],
        topic_name=h["t"],
        incident_message=h.get("msg"),
        activity_id=h.get("act"),
        execution_id=h.get("ex"),
        process_instance_id=h.get("pi"),
        process_definition_id=h.get("pd"),
        tenant_id=h.get("tn"),
    )


def pairs_to_dict(flat: list[str]) -> dict[str, str]:
    """HGETALL as returned inside a script reply (a flat list) -> dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))
