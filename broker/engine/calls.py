"""Call activities (Camunda's CallActivityBehavior and CallableElement): a token entering one
waits for the instance it calls, which the committing layer starts from ``Effects.calls``.

The called instance's end comes back as :func:`complete_call` (camunda:out mappings, then the
call activity completes), a BPMN error it does not catch as :func:`call_error` (out mappings,
then the error is thrown from the call activity, as Camunda's BpmnExceptionHandler does when it
walks into the super execution), and its deletion as :func:`cancel_call` (Camunda's
AbstractDeleteProcessInstanceCmd cancels the calling activity instance).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from redtask.broker.bpmn import CallActivity, ProcessModel
from redtask.broker.engine.call_start import mapped_parameter
from redtask.broker.engine.effects import Effects
from redtask.broker.engine.errors import InstanceEnded, UnknownCall
from redtask.broker.engine.ids import Ids
from redtask.broker.engine.run import Run
from redtask.broker.engine.state import Execution, InstanceState, TypedValue

Step = tuple[InstanceState, Effects]


def _call_run(
    model: ProcessModel,
    state: InstanceState,
    child_id: str,
    now_ms: int,
    ids: Ids,
    max_bytes: int | None,
) -> tuple[Run, Execution, CallActivity]:
    if state.status != "active":
        raise InstanceEnded(state.instance_id, state.status)
    token = state.waiting("call", child_id)
    if token is None or token.element_id is None:
        raise UnknownCall(child_id)
    call = model.elements[token.element_id]
    assert isinstance(call, CallActivity)
    run = Run(model, state, now_ms, ids, max_bytes)
    return run, run.put(replace(token, wait=None)), call


def _pass_outputs(
    run: Run, execution_id: str, call: CallActivity, child: Mapping[str, TypedValue]
) -> None:
    """CallableElementActivityBehavior#passOutputVariables: the camunda:out mappings, read from
    the called instance's variables; non-local ones set from the call activity (nearest scope
    that has them, else the process), then the local ones on the call activity."""
    for local in (False, True):
        for p in call.outs:
            if p.local != local:
                continue
            for name, value in mapped_parameter(run, call, p, child).items():
                if local:
                    run.set_local(execution_id, name, value)
                else:
                    run.set_variable(execution_id, name, value)


def complete_call(
    model: ProcessModel,
    state: InstanceState,
    child_id: str,
    child_variables: Mapping[str, TypedValue],
    now_ms: int,
    ids: Ids,
    *,
    max_bytes: int | None = None,
) -> Step:
    """The called instance ``child_id`` completed: its out mappings are applied and the call
    activity completes. Raises InstanceEnded, UnknownCall, engine errors of the path taken."""
    run, token, call = _call_run(model, state, child_id, now_ms, ids, max_bytes)
    _pass_outputs(run, token.id, call, child_variables)
    run.complete_activity(token.id)
    run.run()
    return run.snapshot(), run.fx.build()


def call_error(
    model: ProcessModel,
    state: InstanceState,
    child_id: str,
    code: str,
    message: str | None,
    child_variables: Mapping[str, TypedValue],
    now_ms: int,
    ids: Ids,
    *,
    max_bytes: int | None = None,
) -> Step:
    """The called instance ended with a BPMN error it did not catch: out mappings, then the
    error is thrown from the call activity. Raises InstanceEnded, UnknownCall."""
    run, token, call = _call_run(model, state, child_id, now_ms, ids, max_bytes)
    _pass_outputs(run, token.id, call, child_variables)
    run.throw(token.id, call.id, code, message)
    run.run()
    return run.snapshot(), run.fx.build()


def cancel_call(model: ProcessModel, state: InstanceState, child_id: str, ids: Ids) -> Step:
    """The called instance was deleted: the call activity instance is cancelled, and with it
    each enclosing scope left empty; the instance is terminated when nothing is left (Camunda's
    cancelActivityInstance). Raises InstanceEnded, UnknownCall."""
    run, token, _ = _call_run(model, state, child_id, 0, ids, None)
    run.clear_scope(token.id, canceled=True)
    parent_id = token.parent_id
    run.remove(token.id)
    while parent_id is not None and not run.has_children(parent_id):
        parent = run.get(parent_id)
        if parent.parent_id is None:
            run.finish("terminated")
            break
        run.clear_scope(parent.id, canceled=True)
        run.remove(parent.id)
        parent_id = parent.parent_id
    return run.snapshot(), run.fx.build()
