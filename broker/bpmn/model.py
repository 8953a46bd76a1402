"""The elements of the immutable model of one executable BPMN process: its flow nodes, sequence
flows and definitions (the model itself, ``ProcessModel``, is in ``bpmn.process_model``).

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

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from redtask.broker.bpmn.expressions import Expression
from redtask.broker.bpmn.problems import BpmnParseError as BpmnParseError
from redtask.broker.bpmn.problems import Problem as Problem
from redtask.broker.bpmn.timers import TimerDefinition
from redtask.broker.errors import InvalidArgument

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


@dataclass(frozen=True, slots=True)
class LoopCharacteristics:
    """A ``multiInstanceLoopCharacteristics`` (Camunda's MultiInstanceActivityBehavior): how
    many instances run (``cardinality``, a text or expression, else the size of
    ``collection``: a variable name or an expression), whether one after another
    (``sequential``), the local variable each instance gets its element in
    (``element_variable``) and the ``completion_condition`` checked after each instance."""

    sequential: bool = False
    cardinality: str | Expression | None = None
    collection: str | Expression | None = None
    element_variable: str | None = None
    completion_condition: str | Expression | None = None


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
    loop: LoopCharacteristics | None = None


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
    loop: LoopCharacteristics | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BoundaryEvent(FlowNode):
    """An error, timer, message or signal event attached to an external task, sub-process or
    call activity.

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
    loop: LoopCharacteristics | None = None


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
    loop: LoopCharacteristics | None = None  # multi-instance: one called instance per instance


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
    | CallActivity
    | LinkCatchEvent
)
