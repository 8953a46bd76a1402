"""Events that reach an instance from outside: a correlated message (``POST /message``), a
signal to an execution (``POST /execution/{id}/signal``) and a broadcast signal event (``POST
/signal`` or a signal throw or end event of any instance, delivered by
``broker.signal_delivery``).

A message reaches an execution that waits for it in a receive task or message catch event, or
that holds a message subscription (a boundary event of its activity, an event after the
event-based gateway it waits at). A signal throw reaches the signal subscriptions of that name
created before it (see ``EventSubscription``), each at most once.
"""

from __future__ import annotations

from collections.abc import Mapping

from redtask.broker.bpmn import ProcessModel
from redtask.broker.engine import catching
from redtask.broker.engine.effects import Effects
from redtask.broker.engine.errors import NoMatch, NotSignallable
from redtask.broker.engine.events import Step, finish, require_active
from redtask.broker.engine.ids import Ids
from redtask.broker.engine.run import Run
from redtask.broker.engine.state import EventSubscription, Execution, InstanceState, TypedValue

Variables = Mapping[str, TypedValue]
Target = tuple[Execution, str | None]
"""A waiting execution and the element of its subscription (None: a message wait)."""


def _message_targets(state: InstanceState, message_name: str) -> list[Target]:
    """Every execution a message reaches, once each (its wait before its subscriptions)."""
    if state.status != "active":
        return []
    subscribed: dict[str, str] = {}
    for subscription in state.subscriptions:
        if subscription.kind == "message" and subscription.name == message_name:
            subscribed.setdefault(subscription.execution_id, subscription.element_id)
    found: list[Target] = []
    for execution in state.executions:
        wait = execution.wait
        if wait is not None and wait.kind == "message" and wait.ref == message_name:
            found.append((execution, None))
        elif execution.id in subscribed:
            found.append((execution, subscribed[execution.id]))
    return found


def _scope_of(state: InstanceState, target: Target) -> str:
    """The execution Camunda correlates to: the activity a boundary event is attached to and
    the scope of an event sub-process are scopes of their own; a receive task or catch event
    (also after an event-based gateway) is not, so the enclosing scope."""
    execution, element_id = target
    wait = execution.wait
    if element_id is not None and (wait is None or wait.kind != "event"):
        return execution.id
    return execution.parent_id or state.instance_id


def message_waiters(state: InstanceState, message_name: str) -> list[tuple[str, Variables]]:
    """The executions a message reaches (creation order), each with the local variables of the
    execution Camunda's correlation sees: for a receive task or message catch event (no scope
    of its own) the enclosing sub-process's (the process variables at the top level); for a
    boundary event, its activity's; for an event sub-process, its scope's. (On a parallel
    path Camunda uses a concurrent execution with its own, normally empty, locals; redtask
    keeps no such scope and uses the enclosing one there too.)"""
    by_id = {e.id: e for e in state.executions}
    found = []
    for target in _message_targets(state, message_name):
        scope = by_id[_scope_of(state, target)]
        found.append((target[0].id, scope.variables if scope.parent_id else state.variables))
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
    """Deliver a message to the execution it reaches (``execution_id``, or the only one);
    returns the new state, the effects and the triggered execution's id. ``variables`` are set
    from that execution (nearest scope that has them, else the process); ``local_variables``
    on the execution correlated to (see :func:`message_waiters`). Raises InstanceEnded,
    NoMatch (no such execution, or several when none was named)."""
    require_active(state)
    targets = [t for t in _message_targets(state, message_name) if execution_id in (None, t[0].id)]
    if len(targets) != 1:
        raise NoMatch(message_name, len(targets))
    run = Run(model, state, now_ms, ids, max_bytes)
    token, element_id = targets[0]
    for name, value in variables.items():
        run.set_variable(token.id, name, value)
    for name, value in (local_variables or {}).items():
        run.set_local(_scope_of(state, targets[0]), name, value)
    if element_id is None:
        run.update(token.id, wait=None)  # its subscription is the one consumed: not "closed"
        run.complete_activity(token.id)
    else:
        catching.occur(run, token.id, element_id)
    new_state, effects = finish(run)
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
    require_active(state)
    target = signalled_execution(state, execution_id)
    if target is None:
        raise NotSignallable(execution_id)
    run = Run(model, state, now_ms, ids, max_bytes)
    run.release(target)
    for name, value in variables.items():
        run.set_variable(target, name, value)
    run.complete_activity(target)
    return finish(run)


def signal_waiters(
    state: InstanceState,
    signal_name: str,
    thrown_ms: int,
    throw_id: str,
    execution_id: str | None = None,
) -> list[EventSubscription]:
    """The signal subscriptions the throw ``throw_id`` at ``thrown_ms`` reaches (of
    ``execution_id`` only, when given), in creation order."""
    if state.status != "active":
        return []
    return [
        s
        for s in state.subscriptions
        if s.kind == "signal"
        and s.name == signal_name
        and s.since_ms <= thrown_ms
        and throw_id not in s.taken
        and execution_id in (None, s.execution_id)
    ]


def receive_signal(
    model: ProcessModel,
    state: InstanceState,
    signal_name: str,
    thrown_ms: int,
    throw_id: str,
    variables: Variables,
    now_ms: int,
    ids: Ids,
    *,
    execution_id: str | None = None,
    max_bytes: int | None = None,
) -> Step | None:
    """Deliver the signal throw ``throw_id`` (thrown at ``thrown_ms``) to every subscription of
    the instance it reaches (of ``execution_id`` only, when given), in creation order, as Camunda's
    SignalEventReceivedCmd does: ``variables`` are set from each triggered execution first.
    One that an earlier trigger of the same throw removed (an interrupting boundary event
    around it) is passed by. None when it reaches nothing. Raises InstanceEnded."""
    require_active(state)
    reached = signal_waiters(state, signal_name, thrown_ms, throw_id, execution_id)
    if not reached:
        return None
    run = Run(model, state, now_ms, ids, max_bytes)
    run.signal = (signal_name, throw_id)
    for subscription in reached:
        if run.subscriptions.get(subscription.execution_id, {}).get(subscription.element_id) != (
            subscription
        ):
            continue
        for name, value in variables.items():
            run.set_variable(subscription.execution_id, name, value)
        catching.delivered(run, subscription, throw_id)
        catching.occur(run, subscription.execution_id, subscription.element_id)
    return finish(run)
