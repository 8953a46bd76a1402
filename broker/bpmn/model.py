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
from redtask.broker.bpmn.timers import TimerDefinition
from redtask.broker.errors import InvalidArgument

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a BPMN resource was refused, shaped like Camunda's ParseException problem
    (``message, line, column, mainBpmnElementId, bpmnElementIds``). ``line`` and ``column`` are
    0 when unknown; lxml records no column for elements, so only XML syntax errors have one."""

    message: str
    line: int = 0
    column: int = 0
    element_id: str | None = None
    element_ids: tuple[str, ...] = ()


class BpmnParseError(InvalidArgument):
    """A BPMN resource is malformed, hostile or uses unsupported constructs; ``problems`` lists
    every problem found (Camunda's ParseException, answered with 400)."""

    def __init__(self, resource_name: str, problems: Sequence[Problem]) -> None:
        self.resource_name = resource_name
        self.problems = tuple(problems)
        lines = []
        for problem in self.problems:
            where = f" | resource {resource_name}"
            where += f" | line {problem.line}" if problem.line else ""
            where += f" | column {problem.column}" if problem.column else ""
            lines.append(f"\n* {problem.message}{where}")
        super().__init__("ENGINE-09005 Could not parse BPMN process. Errors: " + "".join(lines))


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


class NoInitialStartEvent(InvalidArgument):
    """The process has no none or timer start event and several others: it can only be
    started by a message or signal (Camunda: "no initial activity")."""

    def __init__(self, key: str) -> None:
        super().__init__(
            "Cannot start process instance, initial activity where the process instance "
            "should start is null: initial is null"
        )
        self.key = key


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
    """A start event: a none start event, or (of a process only) a timer start event
    (``timer``), a message start event (``message_name``) or a signal start event
    (``signal_name``)."""

    timer: TimerDefinition | None = None
    message_name: str | None = None
    signal_name: str | None = None

    @property
    def is_exclusive(self) -> bool:
        """A none or timer start event: a process has at most one (Camunda's selectInitial)."""
        return self.message_name is None and self.signal_name is None


@dataclass(frozen=True, slots=True, kw_only=True)
class EndEvent(FlowNode):
    """A none end event; ``terminate`` ends the whole scope; ``error_code`` throws a BPMN error.
    ``inputs`` are evaluated when it is entered (Camunda allows no outputs on an end event)."""

    terminate: bool = False
    error_code: str | None = None
    inputs: tuple[IoParameter, ...] = ()
    outputs: tuple[IoParameter, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalTask(FlowNode):
    """A service, send or business-rule task with ``camunda:type="external"``
    (ExternalTaskActivityBehavior)."""

    task_type: Literal["serviceTask", "sendTask", "businessRuleTask"] = "serviceTask"
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
    completes and written to the enclosing scopes (not when an event interrupts it)."""

    child_ids: tuple[str, ...] = ()
    start_event_id: str
    inputs: tuple[IoParameter, ...] = ()
    outputs: tuple[IoParameter, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class BoundaryEvent(FlowNode):
    """An error or timer event attached to an external task, sub-process or call activity.

    kind "error": ``error_code`` None catches every error; error boundaries always interrupt.
    kind "timer": ``timer`` says when; ``cancel_activity`` False keeps the activity running.
    """

    attached_to: str
    kind: Literal["error", "timer"]
    cancel_activity: bool = True
    error_code: str | None = None
    error_code_variable: str | None = None
    error_message_variable: str | None = None
    timer: TimerDefinition | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IntermediateCatchEvent(FlowNode):
    """Waits for a timer (``timer``) or a correlated message (``message_name``); ``inputs``
    and ``outputs`` as for a receive task."""

    kind: Literal["timer", "message"]
    timer: TimerDefinition | None = None
    message_name: str | None = None
    inputs: tuple[IoParameter, ...] = ()
    outputs: tuple[IoParameter, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveTask(FlowNode):
    """Waits for a message named ``message_name``, or, without one, to be signalled
    (``POST /execution/{id}/signal``). ``inputs`` become its local variables when it is
    entered, ``outputs`` are computed when it moves on."""

    message_name: str | None = None
    inputs: tuple[IoParameter, ...] = ()
    outputs: tuple[IoParameter, ...] = ()


@dataclass(frozen=True, slots=True)
class CallParameter:
    """A ``camunda:in`` / ``camunda:out`` of a call activity (Camunda's CallableElementParameter):
    ``all`` passes every variable (``variables="all"``); else ``source`` (a variable name, None
    when absent) or ``source_expression`` gives the value written as ``target``. ``local`` reads
    (in) or writes (out) the call activity's own local variables only."""

    all: bool = False
    source: str | None = None
    source_expression: Expression | None = None
    target: str | None = None
    local: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkCatchEvent(FlowNode):
    """A catching link event: flows into the throwing link events named ``link`` of its scope
    lead here; it moves on at once and, as in Camunda, is no historic activity."""

    link: str


Binding = Literal["latest", "deployment", "version", "versionTag"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallActivity(FlowNode):
    """A call activity starting an instance of another process (CallActivityBehavior).
    ``called_element``: the process key (constant or expression); ``binding`` chooses the
    definition with ``version`` / ``version_tag`` / ``tenant_id`` (each constant or expression);
    ``business_key``: the ``camunda:in businessKey`` expression, if any."""

    called_element: str | Expression
    binding: Binding = "latest"
    version: str | Expression | None = None
    version_tag: str | Expression | None = None
    tenant_id: str | Expression | None = None
    business_key: str | Expression | None = None
    ins: tuple[CallParameter, ...] = ()
    outs: tuple[CallParameter, ...] = ()
    inputs: tuple[IoParameter, ...] = ()
    outputs: tuple[IoParameter, ...] = ()


Element = (
    StartEvent
    | EndEvent
    | ExternalTask
    | ExclusiveGateway
    | InclusiveGateway
    | ParallelGateway
    | SubProcess
    | BoundaryEvent
    | IntermediateCatchEvent
    | ReceiveTask
    | CallActivity
    | LinkCatchEvent
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

    def __post_init__(self) -> None:
        # built once: the engine asks for every activity it enters (a wide fork enters many)
        boundaries: dict[str, list[BoundaryEvent]] = {}
        for e in self.elements.values():
            if isinstance(e, BoundaryEvent):
                boundaries.setdefault(e.attached_to, []).append(e)
        index = {k: tuple(v) for k, v in boundaries.items()}
        object.__setattr__(self, "_boundaries", MappingProxyType(index))

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

    def children(self, scope_id: str | None = None) -> tuple[Element, ...]:
        """The direct children of the process (None) or of a sub-process, in document order."""
        if scope_id is not None and not isinstance(self.elements[scope_id], SubProcess):
            raise KeyError(f"'{scope_id}' is not a sub-process")
        return tuple(e for e in self.elements.values() if e.scope_id == scope_id)

    def start_event(self, scope_id: str | None = None) -> StartEvent:
        """The start event of a sub-process, or the initial start event of the process (None):
        its none or timer start event, else its only start event (Camunda's selectInitial).
        Raises NoInitialStartEvent for a process with several message or signal start events
        and neither."""
        scope = self.elements[scope_id] if scope_id is not None else None
        if isinstance(scope, SubProcess):
            start = self.elements[scope.start_event_id]
            assert isinstance(start, StartEvent)
            return start
        starts = self.start_events()
        exclusive = [e for e in starts if e.is_exclusive]
        if exclusive or len(starts) == 1:
            return (exclusive or starts)[0]
        raise NoInitialStartEvent(self.key)

    def start_events(self) -> tuple[StartEvent, ...]:
        """The start events of the process (not of its sub-processes), in document order."""
        return tuple(e for e in self.children(None) if isinstance(e, StartEvent))

    def error_handler(self, element_id: str, error_code: str | None) -> BoundaryEvent | None:
        """The error boundary event that catches ``error_code`` thrown at ``element_id``
        (BpmnExceptionHandler).

        Looks at the element's own boundary events, then those of each enclosing sub-process,
        outward; on each level a handler for the exact code beats a catch-all, and document
        order breaks ties. None means unhandled (Camunda then ends the execution).
        """
        scope: str | None = element_id
        while scope is not None:
            handlers = [e for e in self.boundary_events(scope) if e.kind == "error"]
            exact = [h for h in handlers if error_code is not None and h.error_code == error_code]
            catch_all = [h for h in handlers if h.error_code is None]
            if exact or catch_all:
                return (exact or catch_all)[0]
            scope = self.elements[scope].scope_id
        return None

    def priority_of(self, task: ExternalTask) -> int | Expression:
        """The task's priority (Camunda's DefaultPriorityProvider): its own, else the process's,
        else 0."""
        if task.priority is not None:
            return task.priority
        return self.task_priority if self.task_priority is not None else 0
