"""The BPMN process engine's execution core: pure functions from (model, state, event) to
(new state, effects). No Redis, no HTTP, no clock, no randomness: the caller passes the time and
an id supplier, stores the new state with a version check and applies the effects.

Typical use::

    state, effects = start(model, "pi-1", variables, None, None, now_ms, UuidIds())
    for task in effects.tasks_created: ...            # create the external tasks
    state, effects = complete_task(model, state, task_id, variables, {}, now_ms, UuidIds())

Supported: none start, and (``start_event_id``) timer, message and signal start events; none,
terminate, error and signal end events; external tasks with input/output mappings and
``camunda:errorEventDefinition`` (message throw and end events with ``camunda:type="external"``
too); exclusive, parallel, inclusive (fork and join) and event-based gateways; embedded
sub-processes; event sub-processes with error, message and timer starts, interrupting and
non-interrupting; conditional flows on activities; interrupting error boundary events;
interrupting and non-interrupting timer, message and signal boundary events (a timer cycle
re-arms a non-interrupting boundary event at each occurrence); timer, message and signal
intermediate catch events; none and signal intermediate throw events; receive tasks; link
events (resolved by the parser: a catching link event moves on at once); call activities (the
called instance is started, at its initial start event, and ended by the committing layer,
``broker.call_cascade``, from ``Effects.calls`` and the events of ``broker.engine.calls``);
parallel and sequential multi-instance external tasks, embedded sub-processes, receive tasks
and call activities (cardinality, collection and element variable, completion condition; one
called instance per instance).
"""

from redtask.broker.engine.activities import ActivityEvent
from redtask.broker.engine.call_start import MAX_CALL_DEPTH
from redtask.broker.engine.calls import call_error, cancel_call, complete_call
from redtask.broker.engine.effects import (
    Effects,
    NewCall,
    NewTask,
    NewTimer,
    Subscription,
    merge,
)
from redtask.broker.engine.errors import (
    CalledElementNotFound,
    CallTooDeep,
    EngineError,
    EvaluationError,
    InstanceEnded,
    InvalidState,
    NoMatch,
    NoOutgoingFlow,
    NotSignallable,
    SeveralDefinitions,
    UnknownCall,
    UnknownTask,
    UnknownTimer,
)
from redtask.broker.engine.events import (
    bpmn_error,
    cancel,
    complete_task,
    fail_task,
    fire_timer,
    set_task_variables,
    start,
)
from redtask.broker.engine.ids import CounterIds, Ids, UuidIds
from redtask.broker.engine.receiving import (
    correlate_message,
    message_waiters,
    receive_signal,
    signal,
    signal_waiters,
    signalled_execution,
)
from redtask.broker.engine.state import (
    CallLink,
    EventSubscription,
    Execution,
    InstanceState,
    Timer,
    TypedValue,
    Wait,
)
from redtask.broker.engine.tree import Tree


def visible_variables(state: InstanceState, execution_id: str) -> dict[str, TypedValue]:
    """Every variable an execution sees (its locals hide those of outer scopes)."""
    return Tree(state).typed_variables(execution_id)


__all__ = [
    "MAX_CALL_DEPTH",
    "ActivityEvent",
    "CallLink",
    "CallTooDeep",
    "CalledElementNotFound",
    "CounterIds",
    "Effects",
    "EngineError",
    "EvaluationError",
    "EventSubscription",
    "Execution",
    "Ids",
    "InstanceEnded",
    "InstanceState",
    "InvalidState",
    "NewCall",
    "NewTask",
    "NewTimer",
    "NoMatch",
    "NoOutgoingFlow",
    "NotSignallable",
    "SeveralDefinitions",
    "Subscription",
    "Timer",
    "TypedValue",
    "UnknownCall",
    "UnknownTask",
    "UnknownTimer",
    "UuidIds",
    "Wait",
    "bpmn_error",
    "call_error",
    "cancel",
    "cancel_call",
    "complete_call",
    "complete_task",
    "correlate_message",
    "fail_task",
    "fire_timer",
    "merge",
    "message_waiters",
    "receive_signal",
    "set_task_variables",
    "signal",
    "signal_waiters",
    "signalled_execution",
    "start",
    "visible_variables",
]
