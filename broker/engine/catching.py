"""Catching events during a step: the wait states of timer, message and signal catch events,
receive tasks and event-based gateways, the boundary events an activity arms when it starts, and
what happens when one of those events occurs (Camunda's EventSubscriptionDeclaration,
EventBasedGatewayActivityBehavior and BoundaryEventActivityBehavior).

An event-based gateway's token waits at the gateway (wait kind "event") holding a timer or an
event subscription for each catch event its flows lead to; the first event that occurs ends the
gateway, cancels the others, and the token passes its catch event at once. A message or signal
boundary event is a subscription of the token at its activity: interrupting, it cancels the
activity and the token leaves by the boundary event; non-interrupting, a new token leaves by it
and the subscription stays open for the next event, as in Camunda. A scope (the process, a
sub-process) arms the timers and message subscriptions of its event sub-processes when it
starts, on its own execution; an interrupting start cancels the rest of the scope, then the
event sub-process runs as a child of the scope. BPMN errors are caught in :func:`catch_error`
(or, caught by neither, go up to a calling instance that catches them).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from redtask.broker.bpmn import (
    BoundaryEvent,
    EventBasedGateway,
    EventStartEvent,
    IntermediateCatchEvent,
    ReceiveTask,
)
from redtask.broker.engine.effects import Subscription
from redtask.broker.engine.errors import EngineError
from redtask.broker.engine.state import TAKEN, EventKind, EventSubscription, Execution, Wait
from redtask.broker.engine.values import typed

if TYPE_CHECKING:
    from redtask.broker.engine.run import Run


def wait_in(run: Run, execution_id: str, element: IntermediateCatchEvent | ReceiveTask) -> None:
    """A token enters a catch event or receive task and waits in it."""
    run.apply_inputs(execution_id, element)
    if isinstance(element, IntermediateCatchEvent) and element.timer is not None:
        timer_id = run.schedule(execution_id, element.id, element.timer)
        run.update(execution_id, wait=Wait("timer", timer_id))
    elif isinstance(element, IntermediateCatchEvent) and element.signal_name is not None:
        run.update(execution_id, wait=Wait("event", element.id))
        subscribe(run, execution_id, element.id, "signal", element.signal_name)
    elif element.message_name is None:  # a receive task without a message: signalled
        run.update(execution_id, wait=Wait("signal", element.id))
    else:
        run.update(execution_id, wait=Wait("message", element.message_name))
        subscription = Subscription(
            element.message_name, execution_id, element.id, run.business_key
        )
        run.fx.opened[subscription] = None
    run.started(execution_id, element, run.new_activity(element.id))


def wait_at_gateway(run: Run, execution_id: str, gateway: EventBasedGateway) -> None:
    """The token waits at the gateway for the first of its catch events."""
    run.update(execution_id, wait=Wait("event", gateway.id))
    run.started(execution_id, gateway, run.new_activity(gateway.id))
    for flow in run.model.outgoing(gateway.id):
        event = run.model.elements[flow.target]
        assert isinstance(event, IntermediateCatchEvent)  # the parser's rule
        if event.timer is not None:
            run.schedule(execution_id, event.id, event.timer)
        elif event.message_name is not None:
            subscribe(run, execution_id, event.id, "message", event.message_name)
        elif event.signal_name is not None:
            subscribe(run, execution_id, event.id, "signal", event.signal_name)


def arm_boundary_events(run: Run, execution_id: str, activity_id: str) -> None:
    """An activity starts: its timer boundary events are scheduled, its message and signal
    ones subscribed (a multi-instance activity's belong to its body, not to each instance)."""
    if run.is_instance(run.get(execution_id)):
        return
    for boundary in run.model.boundary_events(activity_id):
        if boundary.timer is not None:
            run.schedule(execution_id, boundary.id, boundary.timer)
        elif boundary.kind in ("message", "signal") and boundary.event_name is not None:
            subscribe(run, execution_id, boundary.id, boundary.kind, boundary.event_name)


def arm_event_sub_processes(run: Run, execution_id: str, scope_id: str | None) -> None:
    """A scope starts (the process, a sub-process): the timers of its event sub-processes are
    scheduled and their messages subscribed, on its execution."""
    for start in run.model.event_starts(scope_id):
        if start.timer is not None:
            run.schedule(execution_id, start.id, start.timer)
        elif start.message_name is not None:
            subscribe(run, execution_id, start.id, "message", start.message_name)


def start_event_sub_process(run: Run, execution_id: str, start: EventStartEvent) -> str:
    """The start event of an event sub-process of the scope ``execution_id`` fired: an
    interrupting one first cancels everything else in the scope (its other event sub-processes'
    waits too); returns the id of the event sub-process's token."""
    sub = run.model.elements[start.scope_id or ""]
    if start.interrupting:
        run.cancel_inside(execution_id)
        starts = {s.id for s in run.model.event_starts(sub.scope_id)}
        for timer_id in list(run.timers_of.get(execution_id, ())):
            if run.timers[timer_id].element_id in starts:
                run.drop_timer(timer_id)
                run.fx.cancel_timer(timer_id)
        mine = run.subscriptions.get(execution_id, {})
        for element_id in [e for e in mine if e in starts]:
            subscription = mine.pop(element_id)
            if subscription.kind == "message":
                run.fx.close(run.message_subscription(subscription))
    token = Execution(run.ids.new_id(), execution_id, sub.scope_id, sub.id)
    run.put(token)
    run.push(token.id, sub.id)
    return token.id


def subscribe(run: Run, execution_id: str, element_id: str, kind: EventKind, name: str) -> None:
    if kind == "message":
        run.subscribe(EventSubscription(execution_id, element_id, kind, name))
        return
    # one made while a throw of this signal is delivered already took it
    taken = (run.signal[1],) if run.signal is not None and run.signal[0] == name else ()
    run.subscribe(EventSubscription(execution_id, element_id, kind, name, run.now_ms, taken))


def occur(run: Run, execution_id: str, element_id: str) -> None:
    """The event ``element_id`` that the execution waits for or listens to occurred (its timer,
    already dropped, or one of its subscriptions)."""
    element = run.model.elements[element_id]
    token = run.get(execution_id)
    if isinstance(element, EventStartEvent):
        start_event_sub_process(run, execution_id, element)
    elif isinstance(element, BoundaryEvent):
        if element.cancel_activity:
            run.clear_scope(execution_id, canceled=True)
            run.push(execution_id, element.id)
        else:
            branch = Execution(run.ids.new_id(), token.parent_id, token.scope_id, element.id)
            run.put(branch)
            run.push(branch.id, element.id)
    elif isinstance(run.model.elements.get(token.element_id or ""), EventBasedGateway):
        pass_after_gateway(run, execution_id, element_id)
    else:
        run.release(execution_id)
        run.complete_activity(execution_id)


def catch_error(
    run: Run, execution_id: str, element_id: str, code: str, message: str | None
) -> None:
    """A BPMN error thrown at ``element_id`` by the execution: the handler found by
    ``model.error_handler`` (a boundary event interrupts its activity; an error event
    sub-process interrupts its scope) takes over, with the error's code and message in the
    variables it names. Unhandled here but caught by a calling instance (a call activity's
    boundary event or an error event sub-process around it), the instance ends and the error
    goes up to the caller (``Effects.escalated``); unhandled, the execution's path ends
    (Camunda)."""
    handler = run.model.error_handler(element_id, code)
    if handler is None and run.call is not None and run.call.catches(code):
        run.fx.escalated = (code, message)  # a calling instance catches it: this one ends
        run.finish("terminated")
        return
    if handler is None:
        run.end(execution_id)
        return
    lineage = run.lineage(execution_id)
    if isinstance(handler, EventStartEvent):
        scope_id = run.model.elements[handler.scope_id or ""].scope_id
        scope = next(e for e in lineage if e.element_id == scope_id)
        target = run.get(start_event_sub_process(run, scope.id, handler))
    else:  # outermost first: a multi-instance body before its instances
        found = next((e for e in reversed(lineage) if e.element_id == handler.attached_to), None)
        if found is None:
            raise EngineError(f"No execution is in '{handler.attached_to}' to catch '{code}'")
        target = run.clear_scope(found.id, canceled=True)
    if handler.error_code_variable:
        run.set_variable(target.id, handler.error_code_variable, typed(code))
    if handler.error_message_variable:
        run.set_variable(target.id, handler.error_message_variable, typed(message))
    if isinstance(handler, BoundaryEvent):
        run.push(target.id, handler.id)


def pass_after_gateway(run: Run, execution_id: str, event_id: str) -> None:
    """The gateway's token passes the catch event that occurred: the gateway ends, its other
    timers and subscriptions are cancelled, the event is entered and left at once."""
    event = run.model.elements[event_id]
    assert isinstance(event, IntermediateCatchEvent)
    run.release(execution_id)
    run.end_activity(execution_id)
    run.fx.path.append(event.id)
    run.update(execution_id, element_id=event.id)
    run.apply_inputs(execution_id, event)
    run.passed(execution_id, event)
    run.complete_activity(execution_id)


def delivered(run: Run, subscription: EventSubscription, throw_id: str) -> None:
    """A signal throw reached a subscription (that may stay open): a second delivery of the
    same throw passes it by."""
    taken = (*subscription.taken, throw_id)[-TAKEN:]
    run.subscriptions[subscription.execution_id][subscription.element_id] = replace(
        subscription, taken=taken
    )
