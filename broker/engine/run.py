"""One step of execution: tokens move depth-first until every path waits or ends.

``Run`` works on a :class:`Tree` copy; ``enter`` executes an element's behaviour. A token that
takes several flows keeps the first one and forks new sibling tokens for the others; the first
flow's path is followed until it waits before the next one starts (Camunda's order).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from redtask.broker.bpmn import (
    BoundaryEvent,
    CallActivity,
    EndEvent,
    EventBasedGateway,
    EventStartEvent,
    Expression,
    ExpressionError,
    ExternalTask,
    FlowNode,
    InclusiveGateway,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    LinkCatchEvent,
    ParallelGateway,
    ProcessModel,
    ReceiveTask,
    SequenceFlow,
    StartEvent,
    SubProcess,
    TimerDefinition,
    TimerError,
)
from redtask.broker.bpmn.cycles import Armed, arm
from redtask.broker.bpmn.timers import TimerOutOfRange as TimerRangeError
from redtask.broker.engine import catching, join_firing, loops
from redtask.broker.engine.call_start import start_call
from redtask.broker.engine.effects import NewTask, NewTimer
from redtask.broker.engine.errors import (
    EvaluationError,
    NoOutgoingFlow,
    StepTooLarge,
    TimerOutOfRange,
    VariablesTooLarge,
)
from redtask.broker.engine.ids import Ids
from redtask.broker.engine.state import Execution, InstanceState, Timer, TypedValue, Wait
from redtask.broker.engine.tree import Tree
from redtask.broker.engine.values import evaluate, holds, mapped

MAX_ENTRIES = 10_000
"""Elements one step may enter: more means a cycle without a wait state, or a fork wider than one
request may take (bounded work); each flow a fork takes counts as entered at once."""


class Run(Tree):
    def __init__(
        self,
        model: ProcessModel,
        state: InstanceState,
        now_ms: int,
        ids: Ids,
        max_bytes: int | None = None,
    ) -> None:
        super().__init__(state)
        self.model = model
        self.now_ms = now_ms
        self.ids = ids
        self.max_bytes = max_bytes  # most bytes the step's input/output mappings may compute
        self.computed_bytes = 0
        self.stack: list[tuple[str, str, str | None]] = []
        self.reaching: dict[str, frozenset[str]] = {}  # join id -> elements that can reach it
        self.last_ended: str | None = None  # the element of the last path that ended
        self.signal: tuple[str, str] | None = None  # (name, throw id) of a signal delivered

    def push(self, execution_id: str, element_id: str, flow_id: str | None = None) -> None:
        self.stack.append((execution_id, element_id, flow_id))

    def run(self) -> None:
        """Move every pushed token until it waits; then fire the inclusive joins that are ready.

        Raises StepTooLarge when the step enters more than MAX_ENTRIES elements."""
        while self.status == "active":
            while self.stack and self.status == "active":
                execution_id, element_id, flow_id = self.stack.pop()
                if execution_id in self.executions:
                    self.enter(execution_id, element_id, flow_id)
            if self.status != "active" or not join_firing.fire_inclusive(self):
                return

    # elements -----------------------------------------------------------------------------

    def enter(self, execution_id: str, element_id: str, flow_id: str | None) -> None:
        element = self.model.elements[element_id]
        if len(self.fx.path) >= MAX_ENTRIES:
            raise StepTooLarge(MAX_ENTRIES, element_id)
        self.fx.path.append(element_id)
        self.end_activity(execution_id)  # the token leaves the catch event or join it was in
        self.update(execution_id, element_id=element_id)
        if isinstance(element, StartEvent | EventStartEvent | BoundaryEvent):
            self.passed(execution_id, element)
            self.leave(execution_id)
        elif isinstance(element, EndEvent):
            self.apply_inputs(execution_id, element)
            self.passed(execution_id, element, complete_scope=element.error_code is None)
            if element.signal_name is not None:
                self.fx.signals.append(element.signal_name)
            if element.error_code is not None:
                self.throw(execution_id, element.id, element.error_code, self.message_of(element))
            elif element.terminate:
                self.terminate(execution_id)
            else:
                self.end(execution_id)
        elif isinstance(element, loops.Activity) and element.loop:
            loops.start_body(self, execution_id, element)
        elif isinstance(element, loops.Activity | IntermediateCatchEvent):
            self.begin(execution_id, element)
        elif isinstance(element, LinkCatchEvent):
            self.leave(execution_id)  # no activity instance (Camunda's HistoryParseListener)
        elif isinstance(element, ParallelGateway | InclusiveGateway):
            if len(element.incoming) > 1:
                self.update(execution_id, wait=Wait("join", flow_id or ""))
                self.started(execution_id, element, self.new_activity(element.id))
                if isinstance(element, ParallelGateway):
                    join_firing.try_parallel(self, execution_id, element)
            else:
                self.passed(execution_id, element)
                self.fork(execution_id, element)
        elif isinstance(element, EventBasedGateway):
            catching.wait_at_gateway(self, execution_id, element)
        elif isinstance(element, IntermediateThrowEvent):
            self.apply_inputs(execution_id, element)
            self.passed(execution_id, element)
            if element.signal_name is not None:
                self.fx.signals.append(element.signal_name)
            self.complete_activity(execution_id)
        else:  # exclusive gateway
            self.passed(execution_id, element)
            self.take(execution_id, self.choose(element, self.values(execution_id)))

    def begin(self, execution_id: str, element: loops.Activity | IntermediateCatchEvent) -> None:
        """Run an activity's behaviour on a token (also each instance of a multi-instance)."""
        if isinstance(element, ExternalTask):
            self.start_task(execution_id, element)
            return
        if isinstance(element, SubProcess):
            self.start_sub_process(execution_id, element)
            return
        if isinstance(element, CallActivity):
            start_call(self, execution_id, element)
            return
        catching.wait_in(self, execution_id, element)  # a catch event or receive task

    def new_activity(self, element_id: str) -> str:
        return f"{element_id}:{self.ids.new_activity_id()}"

    def mapped(
        self,
        element_id: str,
        name: str,
        value: str | Expression | None,
        variables: Mapping[str, TypedValue],
    ) -> TypedValue:
        """An input/output parameter's typed value, counted against ``max_bytes`` (a mapping
        that repeats a large variable would otherwise multiply it in Redis). Raises
        EvaluationError, VariablesTooLarge."""
        result = mapped(element_id, name, value, variables)
        if self.max_bytes is not None:
            self.computed_bytes += len(name.encode()) + len(json.dumps(result, default=str))
            if self.computed_bytes > self.max_bytes:
                raise VariablesTooLarge(element_id, name, self.computed_bytes, self.max_bytes)
        return result

    def apply_inputs(
        self,
        execution_id: str,
        element: SubProcess
        | ReceiveTask
        | IntermediateCatchEvent
        | IntermediateThrowEvent
        | EndEvent
        | CallActivity,
    ) -> None:
        """An activity's input mappings become the local variables of its execution."""
        if element.inputs:
            outer = self.typed_variables(execution_id)
            inputs = {
                p.name: self.mapped(element.id, p.name, p.value, outer) for p in element.inputs
            }
            self.update(execution_id, variables={**self.get(execution_id).variables, **inputs})

    def complete_activity(self, execution_id: str) -> None:
        """An activity that waited (a receive task, a catch event) or a sub-process is done:
        its output mappings are computed from what it sees, its locals dropped, the outputs
        written to the enclosing scopes; then it leaves."""
        element = self.model.elements[self.get(execution_id).element_id or ""]
        outputs = getattr(element, "outputs", ())
        outer = self.typed_variables(execution_id) if outputs else {}
        values = {p.name: self.mapped(element.id, p.name, p.value, outer) for p in outputs}
        self.clear_scope(execution_id)
        for name, value in values.items():
            self.set_variable(execution_id, name, value)
        self.leave(execution_id)

    def start_task(self, execution_id: str, task: ExternalTask) -> None:
        outer = self.typed_variables(execution_id)
        inputs = {p.name: self.mapped(task.id, p.name, p.value, outer) for p in task.inputs}
        instance = f"{task.id}:{self.ids.new_id()}"
        variables = {**self.get(execution_id).variables, **inputs}  # a loop's locals stay
        self.update(execution_id, variables=variables, activity_instance_id=instance)
        catching.arm_boundary_events(self, execution_id, task.id)
        values = self.values(execution_id)
        topic = evaluate(task.id, "the topic", task.topic, values)
        priority = evaluate(task.id, "the priority", self.model.priority_of(task), values)
        if isinstance(priority, bool) or not isinstance(priority, int):
            cause = ExpressionError(f"Priority must be an integer, not {priority!r}")
            raise EvaluationError(task.id, "the priority", cause)
        task_id = self.ids.new_id()
        self.update(execution_id, wait=Wait("task", task_id))
        self.started(execution_id, task, instance, task_id)
        self.fx.tasks[task_id] = NewTask(
            id=task_id,
            topic=topic if isinstance(topic, str) else str(topic),
            priority=priority,
            activity_id=task.id,
            activity_instance_id=instance,
            execution_id=execution_id,
            extension_properties=dict(task.extension_properties),
            tenant_id=self.tenant_id,
            business_key=self.business_key,
            error_events=any(d.expression is not None for d in task.error_event_definitions),
        )

    def start_sub_process(self, execution_id: str, sub: SubProcess) -> None:
        self.apply_inputs(execution_id, sub)
        instance = f"{sub.id}:{self.ids.new_id()}"
        self.started(execution_id, sub, instance)
        catching.arm_boundary_events(self, execution_id, sub.id)
        catching.arm_event_sub_processes(self, execution_id, sub.id)
        child = Execution(self.ids.new_id(), execution_id, sub.id, sub.start_event_id)
        self.put(child)
        self.push(child.id, sub.start_event_id)

    def schedule(self, execution_id: str, element_id: str, definition: TimerDefinition) -> str:
        try:
            armed = arm(definition, self.now_ms, self.values(execution_id))
        except TimerRangeError as exc:
            raise TimerOutOfRange(element_id, "the timer", exc) from None
        except (ExpressionError, TimerError) as exc:
            raise EvaluationError(element_id, "the timer", exc) from None
        return self.add_scheduled(execution_id, element_id, armed)

    def add_scheduled(self, execution_id: str, element_id: str, armed: Armed) -> str:
        """Record a timer (a new one, or a cycle's next occurrence) and its effect."""
        timer_id = self.ids.new_id()
        timer = Timer(timer_id, execution_id, element_id, armed.due_ms, armed.index, armed.cycle)
        self.add_timer(timer)
        self.fx.timers[timer_id] = NewTimer(timer_id, armed.due_ms, execution_id, element_id)
        return timer_id

    # leaving ------------------------------------------------------------------------------

    def leave(self, execution_id: str) -> None:
        """Take every outgoing flow whose condition holds; no outgoing flow ends the path."""
        execution = self.get(execution_id)
        if self.is_instance(execution):
            loops.instance_done(self, execution_id)
            return
        element_id = execution.element_id
        assert element_id is not None
        flows = self.model.outgoing(element_id)
        if not flows:
            self.end(execution_id)
            return
        values = self.values(execution_id)
        taken = [f for f in flows if f.condition is None or holds(element_id, f, values)]
        if not taken:
            raise NoOutgoingFlow(element_id)
        self.take(execution_id, taken)

    def fork(self, execution_id: str, gateway: ParallelGateway | InclusiveGateway) -> None:
        if isinstance(gateway, ParallelGateway):
            flows = self.model.outgoing(gateway.id)
            if not flows:
                self.end(execution_id)
            else:
                self.take(execution_id, flows)
        else:
            self.take(execution_id, self.choose(gateway, self.values(execution_id)))

    def choose(self, gateway: FlowNode, values: Mapping[str, Any]) -> list[SequenceFlow]:
        """Exclusive: the first flow (document order) whose condition holds; inclusive: all of
        them; else the default flow. Raises NoOutgoingFlow."""
        default = getattr(gateway, "default_flow", None)
        taken = []
        for flow in self.model.outgoing(gateway.id):
            if flow.id != default and (flow.condition is None or holds(gateway.id, flow, values)):
                taken.append(flow)
                if not isinstance(gateway, InclusiveGateway):
                    break
        if not taken and default is not None:
            taken = [self.model.flows[default]]
        if not taken:
            raise NoOutgoingFlow(gateway.id)
        return taken

    def take(self, execution_id: str, flows: Sequence[SequenceFlow]) -> None:
        execution = self.get(execution_id)
        if len(self.fx.path) + len(flows) > MAX_ENTRIES:  # refused before any token is made
            raise StepTooLarge(MAX_ENTRIES, execution.element_id or execution_id)
        tokens = [execution_id]
        for _ in flows[1:]:
            sibling = Execution(
                self.ids.new_id(), execution.parent_id, execution.scope_id, execution.element_id
            )
            tokens.append(self.put(sibling).id)
        for token, flow in reversed(list(zip(tokens, flows, strict=True))):
            self.push(token, flow.target, flow.id)

    # ends, errors, joins -------------------------------------------------------------------

    def clear_scope(self, execution_id: str, *, canceled: bool = False) -> Execution:
        kept = loops.kept_locals(self, self.get(execution_id))
        execution = super().clear_scope(execution_id, canceled=canceled)
        return self.update(execution_id, variables=kept) if kept else execution

    def end(self, execution_id: str) -> None:
        """End a path; its scope completes when no path is left in it."""
        execution = self.get(execution_id)
        if self.is_instance(execution):  # e.g. an uncaught error: the instance ends
            loops.instance_done(self, execution_id)
            return
        parent_id = execution.parent_id
        self.last_ended = execution.element_id
        self.release(execution_id)
        self.remove(execution_id)
        if parent_id is not None and not self.has_children(parent_id):
            self.complete_scope(parent_id)

    def complete_scope(self, execution_id: str) -> None:
        if self.get(execution_id).parent_id is None:
            self.finish("completed")
            self.fx.end_activity_id = self.last_ended
        else:
            self.complete_activity(execution_id)

    def terminate(self, execution_id: str) -> None:
        """A terminate end event ends its whole scope (the process: the whole instance)."""
        execution = self.get(execution_id)
        parent_id = execution.parent_id
        assert parent_id is not None
        self.last_ended = execution.element_id
        self.cancel_inside(parent_id)
        self.complete_scope(parent_id)

    def throw(self, execution_id: str, element_id: str, code: str, message: str | None) -> None:
        """Propagate a BPMN error from an element; unhandled, it ends the path (Camunda)."""
        catching.catch_error(self, execution_id, element_id, code, message)

    def message_of(self, end: EndEvent) -> str | None:
        return next(
            (e.error_message for e in self.model.errors.values() if e.error_code == end.error_code),
            None,
        )
