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

from redtask.broker.bpmn import BoundaryEvent, ExpressionError, ExternalTask, ProcessModel
from redtask.broker.bpmn.cycles import Armed, following
from redtask.broker.engine.effects import Effects
from redtask.broker.engine.errors import (
    EvaluationError,
    InstanceEnded,
    NoMatch,
    NotSignallable,
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
    token = run.put(Execution(ids.new_id(), instance_id, None, start_event.id))
    run.push(token.id, start_event.id)
    return _finish(run)


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
        return _finish(run)
    outer = run.typed_variables(token.id)
    outputs = {p.name: run.mapped(task.id, p.name, p.value, outer) for p in task.outputs}
    run.clear_scope(token.id)
    for name, value in outputs.items():
        run.set_variable(token.id, name, value)
    run.leave(token.id)
    return _finish(run)


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
    new_state, effects = _finish(run)
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
    return _finish(run)


def fire_timer(
    model: ProcessModel,
    state: InstanceState,
    timer_id: str,
    now_ms: int,
    ids: Ids,
    *,
    max_bytes: int | None = None,
) -> Step:
    """A timer fell due: its catch event moves on, or its boundary event interrupts the
    activity (or, non-interrupting, starts a parallel path and re-arms a cycle). Raises
    InstanceEnded, UnknownTimer."""
    _require_active(state)
    run = Run(model, state, now_ms, ids, max_bytes)
    timer = run.drop_timer(timer_id)
    if timer is None:
        raise UnknownTimer(timer_id)
    element = model.elements[timer.element_id]
    if not isinstance(element, BoundaryEvent):
        run.update(timer.execution_id, wait=None)
        run.complete_activity(timer.execution_id)
    elif element.cancel_activity:
        run.clear_scope(timer.execution_id, canceled=True)
        run.push(timer.execution_id, element.id)
    else:
        after = following(Armed(timer.due_ms, timer.index, timer.cycle), now_ms)
        if after is not None:  # a cycle waits on the activity for its next occurrence
            run.add_scheduled(timer.execution_id, element.id, after)
        activity = run.get(timer.execution_id)
        token = Execution(ids.new_id(), activity.parent_id, activity.scope_id, element.id)
        run.put(token)
        run.push(token.id, element.id)
    return _finish(run)


def message_waiters(state: InstanceState, message_name: str) -> list[tuple[str, Variables]]:
    """The executions waiting for ``message_name`` (creation order), each with its local
    variables as Camunda's correlation sees them: a receive task or message catch event is no
    scope of its own, so Camunda correlates to the execution of the scope it waits in, whose
    locals are the enclosing sub-process's (the process variables at the top level). (On a
    parallel path Camunda uses a concurrent execution with its own, normally empty, locals;
    redtask keeps no such scope and uses the enclosing one there too.)"""
    if state.status != "active":
        return []
    found = []
    by_id = {e.id: e for e in state.executions}
    for execution in state.executions:
        wait = execution.wait
        if wait is not None and wait.kind == "message" and wait.ref == message_name:
            scope = by_id[execution.parent_id or state.instance_id]
            found.append((execution.id, scope.variables if scope.parent_id else state.variables))
    return found


def correlate_message(
    model: ProcessModel,
    state: InstanceState,
    message_name: str,
    variables: Variables,
    now_ms: int,
    ids: Ids,
    *,
    execution_id: str | None = None,
    local_variables: Variables | None = None,
    max_bytes: int | None = None,
) -> tuple[InstanceState, Effects, str]:
    """Deliver a message to the execution waiting for it (``execution_id``, or the only one);
    returns the new state, the effects and the triggered execution's id. ``variables`` are set
    from that execution (nearest scope that has them, else the process); ``local_variables``
    on the scope it waits in (see :func:`message_waiters`). Raises InstanceEnded, NoMatch (no
    such waiting execution, or several when none was named)."""
    _require_active(state)
    waiting = [
        e
        for e in state.executions
        if e.wait is not None
        and e.wait.kind == "message"
        and e.wait.ref == message_name
        and execution_id in (None, e.id)
    ]
    if len(waiting) != 1:
        raise NoMatch(message_name, len(waiting))
    run = Run(model, state, now_ms, ids, max_bytes)
    token = waiting[0]
    run.update(token.id, wait=None)
    for name, value in variables.items():
        run.set_variable(token.id, name, value)
    for name, value in (local_variables or {}).items():
        run.set_local(token.parent_id or state.instance_id, name, value)
    run.complete_activity(token.id)
    new_state, effects = _finish(run)
    return new_state, effects, token.id


def signalled_execution(state: InstanceState, execution_id: str) -> str | None:
    """The execution a signal to ``execution_id`` moves on: that execution if it waits in a
    receive task or message catch event; for the process instance's own id, its one
    execution when that is all it has (Camunda's process instance is then the execution in
    the activity). None otherwise."""
    if state.status != "active":
        return None
    target = execution_id
    if execution_id == state.instance_id:
        others = [e for e in state.executions if e.id != state.instance_id]
        if len(others) != 1:
            return None
        target = others[0].id
    found = next((e for e in state.executions if e.id == target), None)
    if found is None or found.wait is None or found.wait.kind not in ("message", "signal"):
        return None
    return found.id


def signal(
    model: ProcessModel,
    state: InstanceState,
    execution_id: str,
    variables: Variables,
    now_ms: int,
    ids: Ids,
    *,
    max_bytes: int | None = None,
) -> Step:
    """Signal an execution (Camunda's RuntimeService#signal): ``variables`` are set from it
    (nearest scope that has them, else the process), then the receive task or catch event it
    waits in completes. Raises InstanceEnded, NotSignallable."""
    _require_active(state)
    target = signalled_execution(state, execution_id)
    if target is None:
        raise NotSignallable(execution_id)
    run = Run(model, state, now_ms, ids, max_bytes)
    run.release(target)
    for name, value in variables.items():
        run.set_variable(target, name, value)
    run.complete_activity(target)
    return _finish(run)


def cancel(model: ProcessModel, state: InstanceState) -> Step:
    """Delete the instance: every task is deleted, every timer cancelled, every subscription
    closed, and the status becomes "terminated". Raises InstanceEnded."""
    _require_active(state)
    run = Run(model, state, 0, _NoIds())
    run.finish("terminated")
    return _finish(run)


def _task_run(
    model: ProcessModel,
    state: InstanceState,
    task_id: str,
    now_ms: int,
    ids: Ids,
    max_bytes: int | None = None,
) -> tuple[Run, Execution, ExternalTask]:
    _require_active(state)
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


def _require_active(state: InstanceState) -> None:
    if state.status != "active":
        raise InstanceEnded(state.instance_id, state.status)


def _finish(run: Run) -> Step:
    run.run()
    return run.snapshot(), run.fx.build()


class _NoIds:
    def new_id(self) -> str:  # cancelling and setting variables never create anything
        raise AssertionError("this step creates nothing")

    def new_activity_id(self) -> str:
        raise AssertionError("this step creates nothing")
