"""The immutable model of one executable BPMN process, as produced by :func:`parse_bpmn`: its
elements (``bpmn.model``) and the lookups the engine asks for."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from redtask.broker.bpmn.expressions import Expression
from redtask.broker.bpmn.model import (
    BoundaryEvent,
    Element,
    ErrorDefinition,
    EventStartEvent,
    ExternalTask,
    MessageDefinition,
    NoInitialStartEvent,
    SequenceFlow,
    StartEvent,
    SubProcess,
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
        for boundaries, starts in self.error_levels(element_id):
            found = _best(boundaries, error_code) or _best(starts, error_code)
            if found is not None:
                return found
        return None

    def error_levels(
        self, element_id: str
    ) -> Iterator[tuple[list[BoundaryEvent], list[EventStartEvent]]]:
        """The error handlers that may catch what ``element_id`` throws, level by level outward
        (the order :meth:`error_handler` searches): the error boundary events of the element,
        then of each enclosing sub-process, each with the error start events of the event
        sub-processes of its scope (not of the one the error comes from)."""
        scope: str | None = element_id
        inside: str | None = None  # the event sub-process the error comes from, if any
        while scope is not None:
            element = self.elements[scope]
            if isinstance(element, SubProcess) and element.triggered_by_event:
                inside = scope
            boundaries = [e for e in self.boundary_events(scope) if e.kind == "error"]
            starts = [
                e
                for e in self.event_starts(element.scope_id)
                if e.kind == "error" and e.scope_id != inside
            ]
            yield boundaries, starts
            scope = element.scope_id

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
