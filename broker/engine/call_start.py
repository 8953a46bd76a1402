"""Entering a call activity (CallActivityBehavior#startInstance): the token waits for a new
instance, which the committing layer starts from the ``NewCall`` in the step's effects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from redtask.broker.bpmn import CallActivity, CallParameter, ProcessModel
from redtask.broker.engine import catching
from redtask.broker.engine.effects import NewCall
from redtask.broker.engine.errors import CallTooDeep
from redtask.broker.engine.state import CallLink, TypedValue, Wait
from redtask.broker.engine.values import evaluate

if TYPE_CHECKING:
    from redtask.broker.engine.run import Run

MAX_CALL_DEPTH = 16
"""How deep call activities may nest instances (a process calling itself would otherwise
recurse without bound; Camunda recurses until its stack overflows)."""

_NULL: TypedValue = {"type": "Null", "value": None, "valueInfo": {}}


def start_call(run: Run, execution_id: str, call: CallActivity) -> None:
    """Enter a call activity: the token waits for a new instance described in the effects."""
    run.apply_inputs(execution_id, call)
    instance = f"{call.id}:{run.ids.new_id()}"
    child_id = run.ids.new_id()
    run.started(execution_id, call, instance, child_id)  # recorded as the called instance
    catching.arm_boundary_events(run, execution_id, call.id)
    depth = 1 if run.call is None else run.call.depth + 1
    if depth > MAX_CALL_DEPTH:
        raise CallTooDeep(call.id, MAX_CALL_DEPTH)
    # what Camunda's expressions see as ``execution`` (ahead of a variable of that name), for
    # the idiom businessKey="#{execution.processBusinessKey}"
    execution = {
        "id": execution_id,
        "processInstanceId": run.instance_id,
        "processBusinessKey": run.business_key,
        "businessKey": run.business_key,
    }
    values = {**run.values(execution_id), "execution": execution}

    def text(what: str, value: object) -> str | None:
        result = evaluate(call.id, what, value, values)
        return None if result is None else str(result)

    key = text("the called element", call.called_element) or ""
    version = text("the called element version", call.version)
    version_tag = text("the called element version tag", call.version_tag)
    tenant_id = text("the called element tenant id", call.tenant_id)
    business_key = text("the business key", call.business_key)
    visible = run.typed_variables(execution_id)
    local = dict(run.get(execution_id).variables)
    variables: dict[str, TypedValue] = {}
    for p in call.ins:
        scope = local if p.local else visible
        variables.update(mapped_parameter(run, call, p, scope))
    caught, catch_all = _caught(run.model, call)
    if run.call is not None:
        caught |= set(run.call.caught)
        catch_all = catch_all or run.call.catch_all
    root = run.instance_id if run.call is None else run.call.root_instance_id
    caught_codes = tuple(sorted(caught))
    link = CallLink(run.instance_id, execution_id, root, depth, caught_codes, catch_all)
    run.update(execution_id, wait=Wait("call", child_id))
    run.fx.calls[child_id] = NewCall(
        instance_id=child_id,
        key=key,
        binding=call.binding,
        version=version,
        version_tag=version_tag,
        tenant_id=tenant_id if call.tenant_id is not None else run.tenant_id,
        business_key=business_key,
        variables=variables,
        link=link,
        activity_id=call.id,
    )


def mapped_parameter(
    run: Run, call: CallActivity, p: CallParameter, scope: Mapping[str, TypedValue]
) -> dict[str, TypedValue]:
    """What one camunda:in or camunda:out passes, read from ``scope``."""
    if p.all:
        return {name: dict(value) for name, value in scope.items()}
    target = p.target or ""
    if p.source is not None:
        return {target: dict(scope.get(p.source, _NULL))}
    return {target: run.mapped(call.id, target, p.source_expression, scope)}


def _caught(model: ProcessModel, call: CallActivity) -> tuple[set[str], bool]:
    """The error codes the caller catches around a call activity, where ``model.error_handler``
    looks for them: error boundary events on it and its enclosing sub-processes, and error
    start events of event sub-processes of the scopes around it; True when one catches every
    code."""
    codes: set[str] = set()
    catch_all = False
    for boundaries, starts in model.error_levels(call.id):
        for code in [b.error_code for b in boundaries] + [s.error_code for s in starts]:
            if code is None:
                catch_all = True
            else:
                codes.add(code)
    return codes, catch_all
