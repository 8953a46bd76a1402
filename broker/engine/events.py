"""The events that move a process instance: each returns the new state and the effects.

Every function is pure: the model and the state are not modified, ids come from ``ids`` and the
time from ``now_ms``; the same inputs always give the same result. Variables are Camunda typed
values as redtask stores them (already validated by :mod:`broker.variables`). On error the
caller keeps the old state: nothing is half applied.

Variable writes follow Camunda: ``variables`` go to the nearest scope (walking up from the
task's execution) that already has a variable of that name, else to the process instance;
``local_variables`` go to the task's own execution. One Camunda rule is worth knowing: when the
task has output parameters, the completion ``variables`` are written to the task's local scope,
so only what the output mappings map reaches the outer scopes (the rest ends with the task).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from redtask.broker.bpmn import (
    BoundaryEvent,
    EventStartEvent,
    ExpressionError,
    ExternalTask,
    ProcessModel,
)
from redtask.broker.bpmn.cycles import Armed, following
from redtask.broker.engine import catching
from redtask.broker.engine.effects import Effects
from redtask.broker.engine.errors import (
    EvaluationError,
    InstanceEnded,
    UnknownTask,
    UnknownTimer,
)
from redtask.broker.engine.ids import Ids
from redtask.broker.engine.run import Run
from redtask.broker.engine.state import CallLink, Execution, InstanceState, TypedValue, Wait

Step = tuple[InstanceState, Effects]
Variables = Mapping[str, TypedValue]


def start(
    model: ProcessModel,
    instance_id: str,
    variables: Variables,
    business_key: str | None,
    tenant_id: str | None,
    now_ms: int,
    ids: Ids,
    *,
    definition_id: str | None = None,
    max_bytes: int | None = None,
    call: CallLink | None = None,
    start_event_id: str | None = None,
) -> Step:
    """Start an instance at ``start_event_id`` (a message, signal or timer start event), by
    default at the process's initial start event (``definition_id`` defaults to the process
    key; ``call``: the call activity that starts it). Raises NoInitialStartEvent when the
    process has none, NoOutgoingFlow or EvaluationError when the first steps fail."""
    state = InstanceState(
        instance_id=instance_id,
        definition_id=definition_id if definition_id is not None else model.key,
        business_key=business_key,
        tenant_id=tenant_id,
        status="active",
        executions=(Execution(instance_id, None, None, None),),
        variables=dict(variables),
        call=call,
    )
    start_event = model.start_event() if start_event_id is None else model.elements[start_event_id]
    run = Run(model, state, now_ms, ids, max_bytes)
    catching.arm_event_sub_processes(run, instance_id, None)
    token = run.put(Execution(ids.new_id(), instance_id, None, start_event.id))
    run.push(token.id, start_event.id)
    return finish(run)


def complete_task(
    model: ProcessModel,
    state: InstanceState,
    task_id: str,
    variables: Variables,
    local_variables: Variables,
    now_ms: int,
    ids: Ids,
    *,
    external_task: Mapping[str, Any] | None = None,
    max_bytes: int | None = None,
) -> Step:
    """Complete an external task and continue the process from its activity.

    Its ``camunda:errorEventDefinition`` expressions are evaluated first (Camunda's
    ExternalTaskEntity#evaluateThrowBpmnError; ``externalTask`` in them is ``external_task``,
    e.g. ``{"errorMessage": ..., "errorDetails": ...}``): the first true one throws its BPMN
    error instead. Output mappings run against the task's locals and
    visible variables and write to the enclosing scopes. Raises InstanceEnded, UnknownTask,
    NoOutgoingFlow or EvaluationError (VariablesTooLarge when the mappings computed this step
    take more than ``max_bytes``).
    """
    run, token, task = _task_run(model, state, task_id, now_ms, ids, max_bytes)
    _set_task_variables(run, token.id, task, variables, local_variables)
    thrown = _error_event(run, token.id, task, external_task or {}, lenient=False)
    if thrown is not None:
        return finish(run)
    outer = run.typed_variables(token.id)
    outputs = {p.name: run.mapped(task.id, p.name, p.value, outer) for p in task.outputs}
    run.clear_scope(token.id)
    for name, value in outputs.items():
        run.set_variable(token.id, name, value)
    run.leave(token.id)
    return finish(run)


def fail_task(
    model: ProcessModel,
    state: InstanceState,
    task_id: str,
    variables: Variables,
    local_variables: Variables,
    now_ms: int,
    ids: Ids,
    *,
    external_task: Mapping[str, Any],
    max_bytes: int | None = None,
) -> tuple[InstanceState, Effects, str] | None:
    """A worker reported a failure of an external task (HandleExternalTaskFailureCmd#execute): with
    the failure's variables set, the task's ``camunda:errorEventDefinition`` expressions are
    evaluated in document order, and the first true one throws its BPMN error; returns the new
    state, the effects and the error code thrown. ``external_task`` is what ``externalTask`` shows,
    already carrying the failure's errorMessage and errorDetails. An expression that cannot be
    evaluated counts as false, as Camunda logs and skips it. None when no definition matches: the
    state is unchanged (the caller does the retry and incident bookkeeping). Raises InstanceEnded,
    UnknownTask, or NoOutgoingFlow / EvaluationError from the path the error takes."""
    run, token, task = _task_run(model, state, task_id, now_ms, ids, max_bytes)
    _set_task_variables(run, token.id, task, variables, local_variables)
    code = _error_event(run, token.id, task, external_task, lenient=True)
    if code is None:
        return None
    new_state, effects = finish(run)
    return new_state, effects, code


def set_task_variables(
    model: ProcessModel,
    state: InstanceState,
    task_id: str,
    variables: Variables,
    local_variables: Variables,
) -> InstanceState:
    """Set a failure's variables from an external task that keeps waiting
    (ExternalTaskEntity#failed, when no error event definition matched): ``variables`` as on
    completion, ``local_variables`` on the task's own execution. Nothing moves, so there are no
    effects. Raises InstanceEnded, UnknownTask."""
    run, token, task = _task_run(model, state, task_id, 0, _NoIds())
    _set_task_variables(run, token.id, task, variables, local_variables)
    run.update(token.id, wait=Wait("task", task_id))  # the task still waits
    return run.snapshot()


def bpmn_error(
    model: ProcessModel,
    state: InstanceState,
    task_id: str,
    error_code: str,
    error_message: str | None,
    variables: Variables,
    now_ms: int,
    ids: Ids,
    *,
    max_bytes: int | None = None,
) -> Step:
    """Throw a BPMN error from an external task (Camunda's BpmnExceptionHandler): the handler found
    by ``model.error_handler`` interrupts its activity; without one the task's path ends.
    ``variables`` are written first, as on completion. Raises InstanceEnded or UnknownTask."""
    run, token, task = _task_run(model, state, task_id, now_ms, ids, max_bytes)
    _write(run, token.id, task, variables)
    run.throw(token.id, task.id, error_code, error_message)
    return finish(run)


def fire_timer(
    model: ProcessModel,
    state: InstanceState,
    timer_id: str,
    now_ms: int,
    ids: Ids,
    *,
    max_bytes: int | None = None,
) -> Step:
    """A timer fell due: its catch event moves on, the event-based gateway waiting for it
    takes its path, or its boundary event interrupts the activity (or, non-interrupting,
    starts a parallel path and re-arms a cycle; a non-interrupting timer event sub-process
    re-arms its cycle too). Raises InstanceEnded, UnknownTimer."""
    require_active(state)
    run = Run(model, state, now_ms, ids, max_bytes)
    timer = run.drop_timer(timer_id)
    if timer is None:
        raise UnknownTimer(timer_id)
    element = model.elements[timer.element_id]
    repeats = isinstance(element, BoundaryEvent) and not element.cancel_activity
    if repeats or (isinstance(element, EventStartEvent) and not element.interrupting):
        after = following(Armed(timer.due_ms, timer.index, timer.cycle), now_ms)
        if after is not None:  # a cycle waits on its execution for the next occurrence
            run.add_scheduled(timer.execution_id, element.id, after)
    catching.occur(run, timer.execution_id, timer.element_id)
    return finish(run)


def cancel(model: ProcessModel, state: InstanceState) -> Step:
    """Delete the instance: every task is deleted, every timer cancelled, every subscription
    closed, and the status becomes "terminated". Raises InstanceEnded."""
    require_active(state)
    run = Run(model, state, 0, _NoIds())
    run.finish("terminated")
    return finish(run)


def _task_run(
    model: ProcessModel,
    state: InstanceState,
    task_id: str,
    now_ms: int,
    ids: Ids,
    max_bytes: int | None = None,
) -> tuple[Run, Execution, ExternalTask]:
    require_active(state)
    token = state.waiting("task", task_id)
    if token is None or token.element_id is None:
        raise UnknownTask(task_id)
    task = model.elements[token.element_id]
    assert isinstance(task, ExternalTask)
    run = Run(model, state, now_ms, ids, max_bytes)
    return run, run.put(replace(token, wait=None)), task


def _set_task_variables(
    run: Run, execution_id: str, task: ExternalTask, variables: Variables, local: Variables
) -> None:
    for name, value in local.items():
        run.set_local(execution_id, name, value)
    _write(run, execution_id, task, variables)


def _write(run: Run, execution_id: str, task: ExternalTask, variables: Variables) -> None:
    for name, value in variables.items():
        if task.outputs:
            run.set_local(execution_id, name, value)
        else:
            run.set_variable(execution_id, name, value)


def _error_event(
    run: Run, execution_id: str, task: ExternalTask, info: Mapping[str, Any], *, lenient: bool
) -> str | None:
    """Throw the error of the first ``camunda:errorEventDefinition`` whose expression is true
    (only a Boolean true matches, as Camunda's ``Boolean.TRUE.equals``); returns its code.

    The error's message is the task's errorMessage. An evaluation error raises EvaluationError,
    or with ``lenient`` (on failure) counts as false. The definition's own errorCodeVariable and
    errorMessageVariable are not set: Camunda parses but never reads them (only the catching
    event's apply, in ``Run.throw``; ``ExternalTaskEntity#evaluateThrowBpmnError``)."""
    values = {**run.values(execution_id), "externalTask": dict(info)}
    for definition in task.error_event_definitions:
        if definition.expression is None:
            continue
        try:
            matched = definition.expression.evaluate(values) is True
        except ExpressionError as exc:
            if lenient:
                continue
            raise EvaluationError(task.id, "an error event definition", exc) from None
        if matched:
            message = info.get("errorMessage")
            code = definition.error_code or definition.id or ""
            run.throw(execution_id, task.id, code, message if isinstance(message, str) else None)
            return code
    return None


def require_active(state: InstanceState) -> None:
    if state.status != "active":
        raise InstanceEnded(state.instance_id, state.status)


def finish(run: Run) -> Step:
    run.run()
    return run.snapshot(), run.fx.build()


class _NoIds:
    def new_id(self) -> str:  # cancelling and setting variables never create anything
        raise AssertionError("this step creates nothing")

    def new_activity_id(self) -> str:
        raise AssertionError("this step creates nothing")
