"""Parse a BPMN 2.0 resource (Camunda dialect) into immutable :class:`ProcessModel` objects.

Every problem in the resource is collected and raised at once as a :class:`BpmnParseError`; an
element the engine could not execute faithfully is refused with a problem naming its id, never
skipped. Ignored on purpose: BPMN DI, documentation, lanes, data objects, text annotations,
associations, groups, collaborations and message flows, ``camunda:asyncBefore`` / ``asyncAfter``
and other Camunda attributes or extension elements without effect on external tasks (e.g.
``camunda:failedJobRetryTimeCycle``, which Camunda applies to jobs only).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace
from types import MappingProxyType

from redtask.broker.bpmn import _elements, _events
from redtask.broker.bpmn._calls import call_activity
from redtask.broker.bpmn._context import PASSIVE, ParseContext
from redtask.broker.bpmn._elements import io_mappings
from redtask.broker.bpmn._links import Links, link_definition
from redtask.broker.bpmn._loops import MULTI_INSTANCE, loop_characteristics
from redtask.broker.bpmn._xml import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_DEPTH,
    XmlElement,
    attr,
    bpmn_children,
    camunda_attr,
    line,
    load,
    local,
    text,
)
from redtask.broker.bpmn.expressions import Expression, ExpressionError
from redtask.broker.bpmn.model import (
    BoundaryEvent,
    BpmnParseError,
    CallActivity,
    Element,
    EndEvent,
    ErrorDefinition,
    EventBasedGateway,
    EventStartEvent,
    ExclusiveGateway,
    ExternalTask,
    InclusiveGateway,
    MessageDefinition,
    ParallelGateway,
    Problem,
    SequenceFlow,
    StartEvent,
    SubProcess,
)
from redtask.broker.bpmn.process_model import ProcessModel

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_DEPTH", "parse_bpmn"]

_IGNORED_IN_SCOPE = PASSIVE | {
    "laneSet", "dataObject", "dataObjectReference", "dataStoreReference", "textAnnotation",
    "association", "group",
}  # fmt: skip
_HANDLERS = {**_elements.HANDLERS, **_events.HANDLERS}
_TTL = re.compile(r"(?:P(\d+)D|(\d+))")


def parse_bpmn(
    data: bytes,
    resource_name: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> list[ProcessModel]:
    """The executable processes of a BPMN resource, in document order.

    Non-executable processes (``isExecutable="false"``) are skipped without validation, as Camunda
    does; a resource without executable processes yields []. Raises BpmnParseError listing every
    problem: oversized, DOCTYPE-bearing, malformed or too deeply nested XML (these stop at once),
    unsupported elements and broken references.
    """
    root = load(data, resource_name, max_bytes=max_bytes, max_depth=max_depth)
    if local(root) != "definitions":
        problem = Problem("The root element must be <bpmn:definitions>", line(root))
        raise BpmnParseError(resource_name, [problem])
    errors = {
        error_id: ErrorDefinition(
            error_id, attr(e, "errorCode"), attr(e, "name"), camunda_attr(e, "errorMessage")
        )
        for e in bpmn_children(root, "error")
        if (error_id := attr(e, "id"))
    }
    messages = {
        message_id: attr(m, "name")
        for m in bpmn_children(root, "message")
        if (message_id := attr(m, "id"))
    }
    declared = frozenset(i for e in root.iter() if isinstance(i := e.get("id"), str))
    ctx = ParseContext(resource_name, errors, messages, declared=declared)
    ctx.signals = _signals(ctx, root)
    models: list[ProcessModel] = []
    for process in bpmn_children(root, "process"):
        executable = attr(process, "isExecutable")
        if executable is None or executable.lower() == "true":
            model = _ProcessParser(ctx, process).parse()
            if model is not None:
                models.append(model)
    if ctx.problems:
        raise BpmnParseError(resource_name, ctx.problems)
    return models


def _signals(ctx: ParseContext, root: XmlElement) -> dict[str, str]:
    """The root's ``<signal>`` elements by id, checked as BpmnParse#parseSignals does."""
    signals: dict[str, str] = {}
    for element in bpmn_children(root, "signal"):
        signal_id, name = attr(element, "id"), attr(element, "name")
        if name is not None and name in signals.values():
            ctx.problem(f"duplicate signal name '{name}'.", element, signal_id)
        if signal_id is None:
            ctx.problem("signal must have an id", element)
        elif name is None:
            ctx.problem(f"signal with id '{signal_id}' has no name", element, signal_id)
        else:
            signals[signal_id] = name
    return signals


def _documentation(element: XmlElement) -> str | None:
    """Camunda's parseDocumentation: the trimmed texts of the <documentation> children joined
    by a blank line; None without any."""
    texts = [text(d) for d in bpmn_children(element, "documentation")]
    return "\n\n".join(texts) if texts else None


class _ProcessParser:
    def __init__(self, ctx: ParseContext, process: XmlElement) -> None:
        self.ctx = ctx
        self.process = process
        self.nodes: dict[str, Element] = {}
        self.seen: dict[str, tuple[str | None, str]] = {}  # every flow node: (scope, BPMN type)
        self.flow_elements: list[tuple[XmlElement, str, str | None]] = []
        self.lines: dict[str, int] = {}
        self.links = Links(ctx)

    def parse(self) -> ProcessModel | None:
        ctx, process = self.ctx, self.process
        key = attr(process, "id")
        if not key:
            ctx.problem("A process has no id", process)
            return None
        if key in ctx.ids:
            ctx.problem(f"Duplicate id '{key}'", process, key)
        ctx.ids.add(key)
        ctx.check_extensions(process, key, io_allowed=False)
        self.scope(process, None, key)
        flows = self.sequence_flows()
        self.links.check({f.source for f in flows.values()})
        elements = self.link(flows)
        return ProcessModel(
            key=key,
            resource_name=ctx.resource_name,
            name=attr(process, "name"),
            description=_documentation(process),
            version_tag=camunda_attr(process, "versionTag"),
            history_time_to_live=self.history_time_to_live(),
            task_priority=ctx.priority(camunda_attr(process, "taskPriority"), process, key),
            elements=MappingProxyType(elements),
            flows=MappingProxyType(flows),
            errors=MappingProxyType(dict(ctx.errors)),
            messages=MappingProxyType(
                {i: MessageDefinition(i, name) for i, name in ctx.messages.items() if name}
            ),
        )

    def history_time_to_live(self) -> int | None:
        raw = camunda_attr(self.process, "historyTimeToLive")
        if raw is None or raw == "":
            return None
        match = _TTL.fullmatch(raw)
        if match is None or int(match[1] or match[2]) >= 2**31:
            self.ctx.problem(
                f"Cannot parse historyTimeToLive: '{raw}'", self.process, attr(self.process, "id")
            )
            return None
        return int(match[1] or match[2])

    def scope(
        self, container: XmlElement, scope_id: str | None, owner_id: str
    ) -> tuple[list[str], str | None]:
        """Parse the children of the process or a sub-process: (child ids, first start event
        id)."""
        ctx = self.ctx
        children: list[str] = []
        starts: list[StartEvent | EventStartEvent] = []
        for child in bpmn_children(container):
            kind, eid = local(child), attr(child, "id")
            if kind in _IGNORED_IN_SCOPE:
                continue
            if kind == MULTI_INSTANCE and scope_id is not None:
                continue  # the sub-process's own, parsed by sub_process
            if kind == "standardLoopCharacteristics":
                message = f"'{owner_id}' has a <{kind}>: standard loops are not supported"
                ctx.problem(message, child, owner_id)
                continue
            if not eid:
                eid = ctx.generated_id(kind)
            if eid in ctx.ids:
                ctx.problem(f"Duplicate id '{eid}'", child, eid)
                continue
            ctx.ids.add(eid)
            if kind == "sequenceFlow":
                self.flow_elements.append((child, eid, scope_id))
                continue
            self.seen[eid] = (scope_id, kind)  # in document order: parents before children
            self.lines[eid] = line(child)
            node = self.element(kind, child, eid, scope_id)
            if node is not None:
                self.nodes[eid] = node
                children.append(eid)
                if isinstance(node, StartEvent | EventStartEvent):
                    starts.append(node)
        if not list(bpmn_children(container, "startEvent")):
            message = f"{local(container)} must define a startEvent element"
            ctx.problem(message, container, owner_id)
        exclusive = [s for s in starts if isinstance(s, StartEvent) and s.is_exclusive]
        for extra in exclusive[1:] if scope_id is None else starts[1:]:
            message = (
                "multiple none start events or timer start events not supported on process "
                "definition"
                if scope_id is None
                else "multiple start events not supported for subprocess"
            )
            ctx.problem(message, container, owner_id, extra.id)
        seen: set[tuple[str, str]] = set()
        for start in starts:  # Camunda's one subscription per event name and scope
            if not isinstance(start, StartEvent):
                continue
            for kind, name in (("message", start.message_name), ("signal", start.signal_name)):
                if name is not None and (kind, name) in seen:
                    message = (
                        f"Cannot have more than one {kind} event subscription with name "
                        f"'{name}' for scope '{owner_id}'"
                    )
                    ctx.problem(message, container, start.id)
                seen.add((kind, name or ""))
        return children, starts[0].id if starts else None

    def element(
        self, kind: str, child: XmlElement, eid: str, scope_id: str | None
    ) -> Element | None:
        if kind == "subProcess":
            return self.sub_process(child, eid, scope_id)
        if kind in ("intermediateThrowEvent", "intermediateCatchEvent"):
            definition = link_definition(child)
            if definition is not None:
                return self.links.element(kind, child, eid, scope_id, definition)
        if kind == "callActivity":
            self.ctx.check_activity(child, eid, io_allowed=True)
            io = io_mappings(self.ctx, child, eid)
            return call_activity(self.ctx, child, eid, scope_id, io)
        handler = _HANDLERS.get(kind)
        if handler is None:
            self.ctx.problem(f"Element '{eid}' is a <{kind}>, which is not supported", child, eid)
            return None
        return handler(self.ctx, child, eid, scope_id)

    def sub_process(self, child: XmlElement, eid: str, scope_id: str | None) -> Element | None:
        triggered = attr(child, "triggeredByEvent") == "true"
        if triggered:
            self.ctx.event_scopes.add(eid)
        self.ctx.check_extensions(child, eid, io_allowed=True)
        self.ctx.check_no_default(child, eid)
        inputs, outputs = io_mappings(self.ctx, child, eid)
        child_ids, start = self.scope(child, eid, eid)
        return SubProcess(
            id=eid,
            name=attr(child, "name"),
            scope_id=scope_id,
            child_ids=tuple(child_ids),
            start_event_id=start or "",
            inputs=inputs,
            outputs=outputs,
            loop=loop_characteristics(self.ctx, child, eid),
            triggered_by_event=triggered,
        )

    def sequence_flows(self) -> dict[str, SequenceFlow]:
        flows: dict[str, SequenceFlow] = {}
        for element, fid, scope_id in self.flow_elements:
            self.lines[fid] = line(element)
            ends: dict[str, str] = {}
            for role, end in (("sourceRef", "source"), ("targetRef", "destination")):
                ref = attr(element, role)
                # a missing end, an unknown one and one in another scope (flows never cross a
                # sub-process boundary) are one problem to Camunda
                if not ref or ref not in self.seen or self.seen[ref][0] != scope_id:
                    shown = "null" if ref is None else ref
                    message = f"Invalid {end} '{shown}' of sequence flow '{self.ctx.shown(fid)}'"
                    self.ctx.problem(message, element, fid)
                else:
                    ends[role] = self.links.target(ref) if role == "targetRef" else ref
            condition = self.condition(element, fid)
            if len(ends) == 2:
                source, target = ends["sourceRef"], ends["targetRef"]
                flows[fid] = SequenceFlow(fid, source, target, condition, attr(element, "name"))
        return flows

    def condition(self, flow: XmlElement, fid: str) -> Expression | None:
        found = list(bpmn_children(flow, "conditionExpression"))
        if not found:
            return None
        language = attr(found[0], "language")
        if (language and language.lower() != "juel") or camunda_attr(found[0], "resource"):
            message = f"Condition of sequence flow '{fid}' is a script: only ${{...}} is supported"
            self.ctx.problem(message, flow, fid)
            return None
        raw = text(found[0])
        try:
            expression = Expression.parse(raw)
        except ExpressionError as exc:
            self.ctx.problem(f"Invalid condition of sequence flow '{fid}': {exc}", flow, fid)
            return None
        if expression.is_literal:
            message = (
                f"Condition of sequence flow '{fid}' must be an expression ${{...}}, not '{raw}'"
            )
            self.ctx.problem(message, flow, fid)
            return None
        return expression

    def link(self, flows: dict[str, SequenceFlow]) -> dict[str, Element]:
        """Give every node its flows, check what depends on them, drop parallel conditions."""
        incoming: dict[str, list[str]] = defaultdict(list)
        outgoing: dict[str, list[str]] = defaultdict(list)
        for flow in flows.values():
            outgoing[flow.source].append(flow.id)
            incoming[flow.target].append(flow.id)
            if flow.condition is not None and isinstance(
                self.nodes.get(flow.source), ParallelGateway | EventBasedGateway
            ):
                flows[flow.id] = replace(flow, condition=None)  # Camunda ignores them
        linked: dict[str, Element] = {}
        for eid in self.seen:
            node = self.nodes.get(eid)
            if node is None:
                continue
            ins, outs = tuple(incoming[eid]), tuple(outgoing[eid])
            self.check_node(node, ins, outs)
            self.ctx.problems += _events.event_gateway_problems(
                node, ins, outs, flows, self.seen, self.nodes, self.lines
            )
            linked[eid] = replace(node, incoming=ins, outgoing=outs)
        return linked

    def check_node(self, node: Element, ins: tuple[str, ...], outs: tuple[str, ...]) -> None:
        def problem(message: str, *ids: str) -> None:
            where = self.lines.get(node.id, 0)
            self.ctx.problems.append(Problem(message, where, 0, node.id, (node.id, *ids)))

        if isinstance(node, SubProcess) and node.triggered_by_event and (ins or outs):
            way = "incoming" if ins else "outgoing"
            problem(f"Invalid {way} sequence flow of event subprocess")
        if isinstance(node, StartEvent | EventStartEvent | BoundaryEvent) and ins:
            problem(f"'{node.id}' is a start or boundary event and cannot have incoming flows")
        ends = isinstance(node, EndEvent) or (
            isinstance(node, ExternalTask) and node.task_type == "messageEndEvent"
        )
        if ends and outs:
            problem(f"End event '{node.id}' cannot have outgoing flows")
        default = (
            node.default_flow if isinstance(node, ExclusiveGateway | InclusiveGateway) else None
        )
        if default and default not in outs:
            problem(
                f"Default flow '{default}' of '{node.id}' is not an outgoing flow of it", default
            )
        if isinstance(node, BoundaryEvent):
            target = self.seen.get(node.attached_to)
            where = (
                "Invalid reference in boundary event. Make sure that the referenced activity is "
                "defined in the same scope as the boundary event"
            )
            if target is None:
                problem(where)
            elif not _activity(self.nodes.get(node.attached_to)):
                message = f"Boundary event '{node.id}' is attached to '{node.attached_to}' "
                problem(
                    message + f"(a <{target[1]}>): only external tasks, sub-processes and call "
                    "activities can be"
                )
            elif target[0] != node.scope_id:
                problem(where)


def _activity(node: Element | None) -> bool:
    """Whether boundary events may be attached to the node: an external task (not a message
    throw or end event run as one), a sub-process or a call activity."""
    if isinstance(node, ExternalTask):
        return node.task_type not in ("intermediateMessageThrowEvent", "messageEndEvent")
    if isinstance(node, CallActivity):
        return True
    return isinstance(node, SubProcess) and not node.triggered_by_event
