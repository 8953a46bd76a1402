"""The immutable model of one executable BPMN process, as produced by :func:`parse_bpmn`.

Every flow node of the process, including those inside embedded sub-processes, is in
``ProcessModel.elements`` (document order); ``scope_id`` says which sub-process encloses it (None
for the process itself). Sequence flows are in ``ProcessModel.flows``; nodes list their flow ids.

Semantics the engine should follow (as Camunda does):

- An activity or event without outgoing flows simply ends its path of execution; the process
  (or sub-process) completes when no path is left.
- Flows leaving an activity or event may carry conditions: every flow whose condition holds (or
  that has none) is taken. Flows leaving a parallel gateway never carry a condition here: Camunda
  ignores them, so the parser drops them. A gateway's default flow is taken only when no other
  flow's condition holds; its own condition, if any, is never evaluated.
- Error handling follows :meth:`ProcessModel.error_handler`; a task's priority follows
  :meth:`ProcessModel.priority_of`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from redtask.broker.bpmn.expressions import Expression
from redtask.broker.bpmn.problems import BpmnParseError as BpmnParseError
from redtask.broker.bpmn.problems import Problem as Problem
from redtask.broker.bpmn.timers import TimerDefinition

_EMPTY: Mapping[str, str] = MappingProxyType({})
TaskType = Literal[
    "serviceTask",
    "sendTask",
    "businessRuleTask",
    "intermediateMessageThrowEvent",
    "messageEndEvent",
]


@dataclass(frozen=True, slots=True)
class SequenceFlow:
    id: str
    source: str
    target: str
    condition: Expression | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ErrorDefinition:
    """A ``bpmn:error``: ``error_code`` None makes a catching event referencing it a catch-all."""

    id: str
    error_code: str | None
    name: str | None = None
    error_message: str | None = None  # camunda:errorMessage


@dataclass(frozen=True, slots=True)
class MessageDefinition:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class IoParameter:
    """A ``camunda:inputParameter`` / ``outputParameter``: empty content maps to None (null)."""

    name: str
    value: str | Expression | None


@dataclass(frozen=True, slots=True)
class ErrorEventDefinition:
    """A ``camunda:errorEventDefinition`` of an external task (Camunda's
    CamundaErrorEventDefinition): when ``expression`` is true on complete or failure, a BPMN error
    with ``error_code`` is thrown. A missing expression never matches. ``error_code`` is None only
    if the referenced ``bpmn:error`` has no errorCode."""

    id: str | None
    error_code: str | None
    expression: Expression | None = None
    error_code_variable: str | None = None
    error_message_variable: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowNode:
    """What every element has. ``scope_id`` is the enclosing sub-process id, None at top level."""

    id: str
    name: str | None = None
    scope_id: str | None = None
    incoming: tuple[str, ...] = ()
    outgoing: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StartEvent(FlowNode):
    """A none start event (the only kind supported)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventStartEvent(FlowNode):
    """The start event of an event sub-process: kind "error" (``error_code`` None catches every
    error; always interrupting), "message" (``message_name``) or "timer" (``timer``).
    ``interrupting`` (BPMN's isInterrupting): when it fires, everything else in the enclosing
    scope is cancelled; else the event sub-process runs beside it (a message one keeps
    listening)."""

    kind: Literal["error", "message", "timer"]
    interrupting: bool = True
    error_code: str | None = None
    error_code_variable: str | None = None
    error_message_variable: str | None = None
    message_name: str | None = None
    timer: TimerDefinition | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EndEvent(FlowNode):
    """A none end event; ``terminate`` ends the whole scope; ``error_code`` throws a BPMN error;
    ``signal_name`` broadcasts a signal (ThrowSignalEventActivityBehavior); ``plain_message``:
    a message end event without implementation, which Camunda runs as a none end event.
    ``inputs`` are evaluated when it is entered (Camunda allows no outputs on an end event)."""

    terminate: bool = False
    error_code: str | None = None
    signal_name: str | None = None
    plain_message: bool = False
    inputs: tuple[IoParameter, ...] = ()
    outputs: tuple[IoParameter, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalTask(FlowNode):
    """A service, send or business-rule task with ``camunda:type="external"``
    (ExternalTaskActivityBehavior), or a message intermediate throw or end event whose
    ``messageEventDefinition`` has ``camunda:type="external"`` (Camunda runs those as service
    tasks: the token waits until a worker completes the task; an end event then ends its path).
    ``task_type`` is Camunda's activity type."""

    task_type: TaskType = "serviceTask"
    topic: str | Expression
    priority: int | Expression | None = None
    inputs: tuple[IoParameter, ...] = ()
    outputs: tuple[IoParameter, ...] = ()
    extension_properties: Mapping[str, str | None] = field(default_factory=lambda: _EMPTY)
    error_event_definitions: tuple[ErrorEventDefinition, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ExclusiveGateway(FlowNode):
    default_flow: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InclusiveGateway(FlowNode):
    default_flow: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ParallelGateway(FlowNode):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class SubProcess(FlowNode):
    """An embedded sub-process; ``child_ids`` are its direct children in document order.
    ``inputs`` become its local variables when it starts, ``outputs`` are computed when it
    completes and written to the enclosing scopes (not when an event interrupts it).
    ``triggered_by_event``: an event sub-process, started by its :class:`EventStartEvent`
    (``start_event_id``) while its enclosing scope runs; it has no flows."""

    child_ids: tuple[str, ...] = ()
    start_event_id: str
    triggered_by_event: bool = False
    inputs: tuple[IoParameter, ...] = ()
    outputs: tuple[IoParameter, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class BoundaryEvent(FlowNode):
    """An error, timer, message or signal event attached to an external task or sub-process.

    kind "error": ``error_code`` None catches every error; error boundaries always interrupt.
    kind "timer": ``timer`` says when; kind "message" / "signal": ``event_name`` is the
    message or signal name. ``cancel_activity`` False keeps the activity running (and, for a
    message or signal, its subscription open for further events, as in Camunda).
    """

    attached_to: str
    kind: Literal["error", "timer", "message", "signal"]
    cancel_activity: bool = True
    error_code: str | None = None
    error_code_variable: str | None = None
    error_message_variable: str | None = None
    timer: TimerDefinition | None = None
    event_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IntermediateCatchEvent(FlowNode):
    """Waits for a timer (``timer``), a correlated message (``message_name``) or a signal
    (``signal_name``); ``inputs`` and ``outputs`` as for a receive task. After an event-based
    gateway, the gateway's token waits for it instead (it is entered once it happened)."""

    kind: Literal["timer", "message", "signal"]
    timer: TimerDefinition | None = None
    message_name: str | None = None
    signal_name: str | None = None
    inputs: tuple[IoParameter, ...] = ()
    outputs: tuple[IoParameter, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class IntermediateThrowEvent(FlowNode):
    """A none intermediate throw event (it passes), a message throw event without
    ``camunda:type`` (Camunda runs it as a none event) or a signal throw event (``signal_name``:
    it broadcasts the signal, then passes)."""

    signal_name: str | None = None
    inputs: tuple[IoParameter, ...] = ()
    outputs: tuple[IoParameter, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class EventBasedGateway(FlowNode):
    """Its token waits for the first of the catch events its flows lead to
    (EventBasedGatewayActivityBehavior): that event's path goes on, the others are cancelled."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveTask(FlowNode):
    """Waits for a message named ``message_name``, or, without one, to be signalled
    (``POST /execution/{id}/signal``). ``inputs`` become its local variables when it is
    entered, ``outputs`` are computed when it moves on."""

    message_name: str | None = None
    inputs: tuple[IoParameter, ...] = ()
    outputs: tuple[IoParameter, ...] = ()


Element = (
    StartEvent
    | EventStartEvent
    | EndEvent
    | ExternalTask
    | ExclusiveGateway
    | InclusiveGateway
    | ParallelGateway
    | SubProcess
    | BoundaryEvent
    | IntermediateCatchEvent
    | IntermediateThrowEvent
    | EventBasedGateway
    | ReceiveTask
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessModel:
    """One executable process. Lookups take element ids and raise KeyError for unknown ones.

    ``is_executable`` is always True (non-executable processes are skipped by the parser);
    ``description`` is the process's <documentation>;
    ``history_time_to_live`` is in days; ``task_priority`` is the process-level default.
    """

    key: str
    resource_name: str
    name: str | None = None
    description: str | None = None
    is_executable: bool = True
    version_tag: str | None = None
    history_time_to_live: int | None = None
    task_priority: int | Expression | None = None
    elements: Mapping[str, Element]
    flows: Mapping[str, SequenceFlow]
    errors: Mapping[str, ErrorDefinition] = field(default_factory=lambda: MappingProxyType({}))
    messages: Mapping[str, MessageDefinition] = field(default_factory=lambda: MappingProxyType({}))
    _boundaries: Mapping[str, tuple[BoundaryEvent, ...]] = field(
        init=False, repr=False, compare=False
    )
    _event_starts: Mapping[str | None, tuple[EventStartEvent, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # built once: the engine asks for every activity it enters (a wide fork enters many)
        boundaries: dict[str, list[BoundaryEvent]] = {}
        for e in self.elements.values():
            if isinstance(e, BoundaryEvent):
                boundaries.setdefault(e.attached_to, []).append(e)
        index = {k: tuple(v) for k, v in boundaries.items()}
        object.__setattr__(self, "_boundaries", MappingProxyType(index))
        starts: dict[str | None, list[EventStartEvent]] = {}
        for e in self.elements.values():
            if isinstance(e, EventStartEvent) and e.scope_id is not None:
                starts.setdefault(self.elements[e.scope_id].scope_id, []).append(e)
        by_scope = {k: tuple(v) for k, v in starts.items()}
        object.__setattr__(self, "_event_starts", MappingProxyType(by_scope))

    def outgoing(self, element_id: str) -> tuple[SequenceFlow, ...]:
        """The flows leaving an element, in document order."""
        return tuple(self.flows[flow_id] for flow_id in self.elements[element_id].outgoing)

    def flows_into(self, element_id: str) -> tuple[SequenceFlow, ...]:
        """The flows arriving at an element, in document order (a join counts these)."""
        return tuple(self.flows[flow_id] for flow_id in self.elements[element_id].incoming)

    def boundary_events(self, attached_to: str) -> tuple[BoundaryEvent, ...]:
        """The boundary events attached to an activity, in document order."""
        if attached_to not in self.elements:
            raise KeyError(attached_to)
        return self._boundaries.get(attached_to, ())

    def event_starts(self, scope_id: str | None) -> tuple[EventStartEvent, ...]:
        """The start events of the event sub-processes of the process (None) or of a
        sub-process, in document order."""
        return self._event_starts.get(scope_id, ())

    def children(self, scope_id: str | None = None) -> tuple[Element, ...]:
        """The direct children of the process (None) or of a sub-process, in document order."""
        if scope_id is not None and not isinstance(self.elements[scope_id], SubProcess):
            raise KeyError(f"'{scope_id}' is not a sub-process")
        return tuple(e for e in self.elements.values() if e.scope_id == scope_id)

    def start_event(self, scope_id: str | None = None) -> StartEvent:
        """The none start event of the process (None) or of a sub-process."""
        scope = self.elements[scope_id] if scope_id is not None else None
        if isinstance(scope, SubProcess):
            start = self.elements[scope.start_event_id]
        else:
            start = next(e for e in self.children(scope_id) if isinstance(e, StartEvent))
        assert isinstance(start, StartEvent)
        return start

    def error_handler(
        self, element_id: str, error_code: str | None
    ) -> BoundaryEvent | EventStartEvent | None:
        """The error boundary event or error start event of an event sub-process that catches
        ``error_code`` thrown at ``element_id`` (BpmnExceptionHandler).

        Looks at the element's own boundary events, then at the error event sub-processes of
        its scope, then at that sub-process's boundary events, and so on outward (an event
        sub-process never catches what is thrown inside it); on each level a handler for the
        exact code beats a catch-all, and document order breaks ties. None means unhandled
        (Camunda then ends the execution).
        """
        scope: str | None = element_id
        inside: str | None = None  # the event sub-process the error comes from, if any
        while scope is not None:
            element = self.elements[scope]
            handlers: list[BoundaryEvent | EventStartEvent] = [
                e for e in self.boundary_events(scope) if e.kind == "error"
            ]
            if isinstance(element, SubProcess) and element.triggered_by_event:
                inside = scope
            found = _best(handlers, error_code) or _best(
                [
                    e
                    for e in self.event_starts(element.scope_id)
                    if e.kind == "error" and e.scope_id != inside
                ],
                error_code,
            )
            if found is not None:
                return found
            scope = element.scope_id
        return None

    def priority_of(self, task: ExternalTask) -> int | Expression:
        """The task's priority (Camunda's DefaultPriorityProvider): its own, else the process's,
        else 0."""
        if task.priority is not None:
            return task.priority
        return self.task_priority if self.task_priority is not None else 0


def _best(
    handlers: Sequence[BoundaryEvent | EventStartEvent], error_code: str | None
) -> BoundaryEvent | EventStartEvent | None:
    """The handler for the exact code, else a catch-all, in document order."""
    exact = [h for h in handlers if error_code is not None and h.error_code == error_code]
    catch_all = [h for h in handlers if h.error_code is None]
    found = exact or catch_all
    return found[0] if found else None
