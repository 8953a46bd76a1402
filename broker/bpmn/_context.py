"""The state shared while one BPMN resource is parsed, and the checks every handler uses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from redtask.broker.bpmn._xml import (
    CAMUNDA_NS,
    XmlElement,
    attr,
    bpmn_children,
    line,
    local,
    split,
    text,
)
from redtask.broker.bpmn.expressions import Expression, ExpressionError, parse_value
from redtask.broker.bpmn.model import ErrorDefinition, Problem
from redtask.broker.bpmn.timers import TimerDefinition, TimerError, TimerKind

PASSIVE = frozenset(
    {"documentation", "extensionElements", "incoming", "outgoing", "ioSpecification", "property"}
    | {"dataInputAssociation", "dataOutputAssociation", "dataInput", "dataOutput"}
    | {"inputSet", "outputSet"}
)
"""BPMN children without execution semantics in Camunda; ignored wherever they appear."""
EVENT_DEFINITIONS = frozenset(
    f"{kind}EventDefinition"
    for kind in (
        *("cancel", "compensate", "conditional", "error", "escalation", "link", "message"),
        *("signal", "terminate", "timer"),
    )
) | {"eventDefinitionRef"}
_INTEGER = re.compile(r"[+-]?\d+")


def _local_ref(holder: XmlElement, ref: str) -> str:
    """A reference to a root element by QName (``tns:Message_1``) whose prefix names the
    document's targetNamespace, as its id (Camunda's BpmnParse#resolveName)."""
    prefix, _, name = ref.rpartition(":")
    target = holder.getroottree().getroot().get("targetNamespace")
    if prefix and target is not None and holder.nsmap.get(prefix) == target:
        return name
    return ref


@dataclass
class ParseContext:
    """What the handlers share while one resource is parsed: root-level definitions, the ids
    seen so far and the problems found."""

    resource_name: str
    errors: Mapping[str, ErrorDefinition]
    messages: Mapping[str, str | None]
    signals: Mapping[str, str] = field(default_factory=dict)
    event_scopes: set[str] = field(default_factory=set)  # the event sub-processes' ids
    problems: list[Problem] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    declared: frozenset[str] = frozenset()
    generated: dict[str, int] = field(default_factory=dict)
    generated_ids: set[str] = field(default_factory=set)

    def shown(self, eid: str) -> str:
        """An id as Camunda's messages print it: 'null' for one the resource does not give."""
        return "null" if eid in self.generated_ids else eid

    def generated_id(self, kind: str) -> str:
        """An id for an element the resource leaves without one (BPMN allows that, and
        Camunda's own models have sequence flows without ids): ``<element>_<n>`` in document
        order, never one declared anywhere in the resource."""
        while True:
            self.generated[kind] = self.generated.get(kind, 0) + 1
            candidate = f"{kind}_{self.generated[kind]}"
            if candidate not in self.declared and candidate not in self.ids:
                self.generated_ids.add(candidate)
                return candidate

    def problem(self, message: str, element: XmlElement, *element_ids: str | None) -> None:
        ids = tuple(i for i in element_ids if i and i not in self.generated_ids)
        self.problems.append(Problem(message, line(element), 0, ids[0] if ids else None, ids))

    def error_code(self, error_ref: str) -> str | None:
        """The referenced error's errorCode, or the errorRef itself if no such error (as Camunda's
        BpmnParse#parseErrorEventDefinition resolves it)."""
        error = self.errors.get(error_ref)
        return error_ref if error is None else error.error_code

    def message_name(self, holder: XmlElement, owner: XmlElement, owner_id: str) -> str | None:
        ref = attr(holder, "messageRef")
        if not ref:
            self.problem("attribute 'messageRef' is required", owner, owner_id)
            return None
        found = _local_ref(holder, ref)
        if found not in self.messages:
            message = f"Invalid 'messageRef': no message with id '{ref}' found."
            self.problem(message, owner, owner_id)
            return None
        name = self.messages[found]
        if not name:
            message = "Cannot have a message event subscription with an empty or missing name"
            self.problem(message, owner, owner_id)
        elif "${" in name or "#{" in name:
            message = f"Message '{ref}' used by '{owner_id}' has an expression as name"
            self.problem(message + " (not supported)", owner, owner_id)
            return None
        return name or None

    def signal_name(self, definition: XmlElement, owner: XmlElement, owner_id: str) -> str | None:
        """The name of the signal a ``signalEventDefinition`` references (BpmnParse's
        parseSignalEventDefinition); None after recording a problem."""
        ref = attr(definition, "signalRef")
        if not ref:
            message = "signalEventDefinition does not have required property 'signalRef'"
            self.problem(message, owner, owner_id)
            return None
        name = self.signals.get(_local_ref(definition, ref))
        if name is None:
            self.problem(f"Could not find signal with id '{ref}'", owner, owner_id)
            return None
        if "${" in name or "#{" in name:
            message = f"Signal '{ref}' used by '{owner_id}' has an expression as name"
            self.problem(message + " (not supported)", owner, owner_id)
            return None
        return name

    def value(self, raw: str, element: XmlElement, eid: str, what: str) -> str | Expression | None:
        try:
            return parse_value(raw)
        except ExpressionError as exc:
            self.problem(f"Invalid {what} on '{eid}': {exc}", element, eid)
            return None

    def priority(self, raw: str | None, element: XmlElement, eid: str) -> int | Expression | None:
        """camunda:taskPriority: an expression or a 32-bit integer constant (as Camunda)."""
        if raw is None:
            return None
        value = self.value(raw, element, eid, "camunda:taskPriority")
        if value is None or isinstance(value, Expression):
            return value
        if _INTEGER.fullmatch(raw) and -(2**31) <= int(raw) < 2**31:
            return int(raw)
        message = f"Value '{raw}' for attribute 'taskPriority' is not a valid number"
        self.problem(message, element, eid)
        return None

    def timer(self, definition: XmlElement, owner: XmlElement, eid: str) -> TimerDefinition | None:
        specs = list(bpmn_children(definition, "timeDate", "timeDuration", "timeCycle"))
        if not specs:
            message = (
                "Timer needs configuration (either timeDate, timeCycle or timeDuration is needed)."
            )
            self.problem(message, owner, eid)
            return None
        if len(specs) > 1:
            message = f"Timer of '{eid}' needs exactly one of timeDate, timeDuration or timeCycle"
            self.problem(message, owner, eid)
            return None
        kind = local(specs[0])
        kinds: dict[str, TimerKind] = {
            "timeDuration": "duration",
            "timeDate": "date",
            "timeCycle": "cycle",
        }
        try:
            return TimerDefinition.parse(kinds[kind], text(specs[0]))
        except (TimerError, ExpressionError) as exc:
            self.problem(f"Invalid {kind} of '{eid}': {exc}", owner, eid)
            return None

    def check_children(self, element: XmlElement, eid: str, allowed: frozenset[str]) -> None:
        """Report every BPMN child with semantics we do not implement (loops, multi-instance)."""
        for child in bpmn_children(element):
            name = local(child)
            if name not in PASSIVE and name not in allowed:
                self.problem(f"'{eid}' has a <{name}>, which is not supported", child, eid)

    def check_extensions(self, element: XmlElement, eid: str, *, io_allowed: bool) -> None:
        """Report Camunda extensions that would change behaviour and that we cannot honour."""
        for container in bpmn_children(element, "extensionElements"):
            for child in container:
                namespace, name = split(child)
                if namespace not in CAMUNDA_NS:
                    continue
                if name in ("executionListener", "taskListener", "connector"):
                    self.problem(f"camunda:{name} on '{eid}' is not supported", child, eid)
                elif name == "inputOutput" and not io_allowed:
                    message = (
                        f"camunda:inputOutput mapping unsupported for element type "
                        f"'{local(element)}'."
                    )
                    self.problem(message, element, eid)

    def check_activity(self, element: XmlElement, eid: str, *, io_allowed: bool) -> None:
        """Children, extensions and the ``default`` attribute of a task (which may be a
        multi-instance one)."""
        self.check_children(element, eid, frozenset({"multiInstanceLoopCharacteristics"}))
        self.check_extensions(element, eid, io_allowed=io_allowed)
        self.check_no_default(element, eid)

    def check_no_default(self, element: XmlElement, eid: str) -> None:
        if attr(element, "default"):
            message = f"A default flow on activity '{eid}' is not supported (only on gateways)"
            self.problem(message, element, eid)
