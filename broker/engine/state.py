"""The state of one process instance: a frozen, JSON-serializable snapshot.

Executions form a tree. The root execution (id = instance id, ``element_id`` None) stands for the
process instance; every other execution is a path of execution (a token) at ``element_id``,
following the flow of ``scope_id`` (the enclosing sub-process, None for the process). A token at
a sub-process is that sub-process's scope execution: its children run inside it. A token at an
external task is the task's scope execution: it holds the task's local variables (input mappings,
``localVariables``), which vanish when it leaves the task.

``wait`` says what a token waits for: an external task (``ref`` = task id), a timer (timer id),
a message (message name), a join (the id of the flow it arrived by; this is the whole parallel
and inclusive join bookkeeping) or, kind "event", the subscriptions and timers it holds (at an
event-based gateway or a signal catch event; ``ref`` = the element id). Tokens at a sub-process
wait for their children (``wait`` None).

Variables are Camunda typed values ``{"type", "value", "valueInfo"}``, exactly as stored elsewhere
in redtask: process-level ones in ``InstanceState.variables``, local ones per execution (the root
execution never has locals). ``timers`` lists every scheduled timer: intermediate ones (the token
waits for it) and boundary ones (``execution_id`` is the token at the attached activity).
``subscriptions`` lists the message and signal events executions listen for besides a message
wait: boundary events of the activity a token is in, the events after the event-based gateway
it waits at, the signal catch event it waits in (Camunda's event subscriptions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from redtask.broker.engine.errors import InvalidState

TypedValue = dict[str, Any]
Status = Literal["active", "completed", "terminated"]
WaitKind = Literal["task", "timer", "message", "signal", "join", "call", "event"]
EventKind = Literal["message", "signal"]
_STATUSES = ("active", "completed", "terminated")
_WAIT_KINDS = ("task", "timer", "message", "signal", "join", "call", "event")
_EVENT_KINDS = ("message", "signal")


def _no_variables() -> Mapping[str, TypedValue]:
    return {}


@dataclass(frozen=True, slots=True)
class Wait:
    """What a token waits for; ``ref`` is a task id, timer id, message name, incoming flow id,
    (kind "signal": a receive task without a message; kind "event": see the module docstring)
    the element's id, or (kind "call": a call activity) the id of the instance it called."""

    kind: WaitKind
    ref: str


@dataclass(frozen=True, slots=True)
class Execution:
    id: str
    parent_id: str | None
    scope_id: str | None
    element_id: str | None
    wait: Wait | None = None
    activity_instance_id: str | None = None
    variables: Mapping[str, TypedValue] = field(default_factory=_no_variables)


@dataclass(frozen=True, slots=True)
class Timer:
    """A scheduled timer; ``element_id`` is the catch event or boundary event it triggers.
    A cycle's timer keeps the cycle (``cycle``, evaluated) and the index of the occurrence it
    waits for, so a non-interrupting boundary event re-arms it when it fires."""

    id: str
    execution_id: str
    element_id: str
    due_ms: int
    index: int = 0
    cycle: str | None = None


@dataclass(frozen=True, slots=True)
class CallLink:
    """What makes an instance a sub-process instance: the instance and the execution (the
    token in the call activity) that called it, the root of the call tree, how deep it is
    (1: called by a root instance), and the BPMN error codes some calling instance catches
    (``catch_all``: one catches every code): an error the instance does not catch itself goes
    up to them (Camunda's BpmnExceptionHandler walks into super executions)."""

    super_instance_id: str
    super_execution_id: str
    root_instance_id: str
    depth: int = 1
    caught: tuple[str, ...] = ()
    catch_all: bool = False

    def catches(self, code: str | None) -> bool:
        return self.catch_all or (code is not None and code in self.caught)

    def to_json(self) -> dict[str, Any]:
        return {
            "superInstanceId": self.super_instance_id,
            "superExecutionId": self.super_execution_id,
            "rootInstanceId": self.root_instance_id,
            "depth": self.depth,
            "caught": list(self.caught),
            "catchAll": self.catch_all,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> CallLink | None:
        if data is None:
            return None
        return cls(
            str(data["superInstanceId"]),
            str(data["superExecutionId"]),
            str(data["rootInstanceId"]),
            int(data["depth"]),
            tuple(str(c) for c in data["caught"]),
            bool(data["catchAll"]),
        )


@dataclass(frozen=True, slots=True)
class EventSubscription:
    """An execution listens for a message or signal ``name`` that triggers ``element_id`` (a
    boundary event, a catch event after an event-based gateway, a signal catch event).

    Signals only: ``since_ms``, its creation time: a throw from an earlier millisecond does not
    reach it; ``taken``, the ids of the last ``TAKEN`` throws it took (one that stays open after a
    delivery, a non-interrupting boundary event; or one made by the step a throw triggered), so
    a throw delivered twice reaches it once."""

    execution_id: str
    element_id: str
    kind: EventKind
    name: str
    since_ms: int = 0
    taken: tuple[str, ...] = ()


TAKEN = 32


@dataclass(frozen=True, slots=True)
class InstanceState:
    """One instance; ``executions`` and ``timers`` are in creation order (ended ones removed).
    ``call``: set on an instance a call activity started."""

    instance_id: str
    definition_id: str
    business_key: str | None
    tenant_id: str | None
    status: Status
    executions: tuple[Execution, ...]
    variables: Mapping[str, TypedValue]
    timers: tuple[Timer, ...] = ()
    call: CallLink | None = None
    subscriptions: tuple[EventSubscription, ...] = ()

    def execution(self, execution_id: str) -> Execution:
        """The execution with this id. Raises KeyError."""
        for execution in self.executions:
            if execution.id == execution_id:
                return execution
        raise KeyError(execution_id)

    def waiting(self, kind: WaitKind, ref: str) -> Execution | None:
        """The token waiting for ``ref`` (a task id, a called instance id, ...), if any."""
        return next(
            (e for e in self.executions if e.wait == Wait(kind, ref) and e.element_id), None
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_json` reads it back to an equal state. Event
        subscriptions are written only when there are some (states stored before they
        existed read back as having none)."""
        data: dict[str, Any] = {
            "instanceId": self.instance_id,
            "definitionId": self.definition_id,
            "businessKey": self.business_key,
            "tenantId": self.tenant_id,
            "status": self.status,
            "variables": {name: dict(value) for name, value in self.variables.items()},
            "executions": [_execution_json(e) for e in self.executions],
            "timers": [_timer_json(t) for t in self.timers],
            **({"call": self.call.to_json()} if self.call is not None else {}),
        }
        if self.subscriptions:
            data["subscriptions"] = [
                [s.execution_id, s.element_id, s.kind, s.name, s.since_ms, list(s.taken)]
                for s in self.subscriptions
            ]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InstanceState:
        """Read a :meth:`to_json` dict. Raises InvalidState when it is malformed."""
        try:
            status = data["status"]
            if status not in _STATUSES:
                raise ValueError(f"unknown status {status!r}")
            return cls(
                instance_id=str(data["instanceId"]),
                definition_id=str(data["definitionId"]),
                business_key=data["businessKey"],
                tenant_id=data["tenantId"],
                status=cast(Status, status),
                executions=tuple(_execution_from(e) for e in data["executions"]),
                variables=_variables_from(data["variables"]),
                timers=tuple(
                    Timer(
                        t["id"],
                        t["executionId"],
                        t["elementId"],
                        int(t["dueMs"]),
                        int(t.get("index", 0)),
                        t.get("cycle"),
                    )
                    for t in data["timers"]
                ),
                call=CallLink.from_json(data.get("call")),
                subscriptions=tuple(_subscription_from(s) for s in data.get("subscriptions", ())),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidState(f"Malformed process instance state: {exc!r}") from None


def _timer_json(timer: Timer) -> dict[str, Any]:
    found = {
        "id": timer.id,
        "executionId": timer.execution_id,
        "elementId": timer.element_id,
        "dueMs": timer.due_ms,
    }
    if timer.cycle is not None:  # absent otherwise: states written before cycles read alike
        found |= {"index": timer.index, "cycle": timer.cycle}
    return found


def _execution_json(execution: Execution) -> dict[str, Any]:
    wait = execution.wait
    return {
        "id": execution.id,
        "parentId": execution.parent_id,
        "scopeId": execution.scope_id,
        "elementId": execution.element_id,
        "wait": None if wait is None else {"kind": wait.kind, "ref": wait.ref},
        "activityInstanceId": execution.activity_instance_id,
        "variables": {name: dict(value) for name, value in execution.variables.items()},
    }


def _execution_from(data: Mapping[str, Any]) -> Execution:
    wait = data["wait"]
    if wait is not None and wait["kind"] not in _WAIT_KINDS:
        raise ValueError(f"unknown wait kind {wait['kind']!r}")
    return Execution(
        id=data["id"],
        parent_id=data["parentId"],
        scope_id=data["scopeId"],
        element_id=data["elementId"],
        wait=None if wait is None else Wait(wait["kind"], wait["ref"]),
        activity_instance_id=data["activityInstanceId"],
        variables=_variables_from(data["variables"]),
    )


def _subscription_from(data: Any) -> EventSubscription:
    execution_id, element_id, kind, name, since_ms, taken = data
    if kind not in _EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    return EventSubscription(
        str(execution_id), str(element_id), kind, str(name), int(since_ms), tuple(map(str, taken))
    )


def _variables_from(data: Mapping[str, Any]) -> dict[str, TypedValue]:
    return {str(name): dict(value) for name, value in data.items()}
