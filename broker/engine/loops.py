"""Multi-instance activities (Camunda's Parallel/SequentialMultiInstanceActivityBehavior).

A token that enters an activity with loop characteristics becomes the *multi-instance body*:
it stays at the activity, holds the activity instance ``<id>#multiInstanceBody`` and the local
variables ``nrOfInstances``, ``nrOfActiveInstances`` and ``nrOfCompletedInstances``, and runs
the activity itself in child executions at the same element, one per *instance* (an execution
whose parent is at its own element is an instance: ``Tree.is_instance``). Each instance
sees ``loopCounter`` and the collection element (``camunda:elementVariable``) as locals: on the
instance when parallel (all instances start at once), on the body when sequential (one instance
after another), as in Camunda. The completion condition is evaluated after each instance ends,
from the instance (parallel) or the body (sequential); when it holds, or no instance is left,
the remaining instances are cancelled and the body leaves the activity. Boundary events of the
activity belong to the body: an error caught there, or an interrupting timer, cancels every
instance. A multi-instance call activity calls one instance per instance (each waits for its
own called instance; those a completion condition cancels are deleted with it).
``MAX_INSTANCES`` bounds one activity's fan-out (and ``broker.call_cascade.MAX_INSTANCES`` the
instances one step of a call may start).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from redtask.broker.bpmn import (
    CallActivity,
    Expression,
    ExpressionError,
    ExternalTask,
    LoopCharacteristics,
    ReceiveTask,
    SubProcess,
)
from redtask.broker.engine import catching
from redtask.broker.engine.activities import ActivityEvent
from redtask.broker.engine.errors import EvaluationError, MultiInstanceRefused
from redtask.broker.engine.state import Execution, TypedValue
from redtask.broker.engine.values import evaluate, plain, typed

if TYPE_CHECKING:
    from redtask.broker.engine.run import Run

Activity = ExternalTask | SubProcess | ReceiveTask | CallActivity
MAX_INSTANCES = 10_000
"""The most instances one multi-instance activity may start: a larger cardinality or collection
is refused (the step fails, nothing is stored)."""
BODY = "#multiInstanceBody"
INSTANCES, ACTIVE, COMPLETED = "nrOfInstances", "nrOfActiveInstances", "nrOfCompletedInstances"
LOOP_COUNTER = "loopCounter"
_INTEGER = re.compile(r"[+-]?\d+")  # what Integer.parseInt accepts


def _integer(value: int) -> TypedValue:
    return {"type": "Integer", "value": value, "valueInfo": {}}


def _text(value: str | Expression) -> str:
    return value.text if isinstance(value, Expression) else value


def cardinality(run: Run, execution_id: str, activity: Activity) -> tuple[int, list[Any] | None]:
    """How many instances to start, and the collection they iterate (if any). Raises
    MultiInstanceRefused (Camunda's messages), EvaluationError."""
    loop = activity.loop
    assert loop is not None
    values = run.values(execution_id)
    collection = _collection(run, execution_id, activity, loop, values)
    if loop.cardinality is not None:
        count = _count(activity.id, loop.cardinality, values)
    else:
        assert collection is not None
        count = len(collection)
    if count < 0:
        raise MultiInstanceRefused(
            "ENGINE-02023 Invalid number of 'instances': must be positive integer value or "
            f"zero, but was '{count}'."
        )
    if count > MAX_INSTANCES:
        raise MultiInstanceRefused(
            f"Multi-instance activity '{activity.id}' would start {count} instances, more "
            f"than the limit of {MAX_INSTANCES}"
        )
    return count, collection


def _count(activity_id: str, raw: str | Expression, values: dict[str, Any]) -> int:
    """MultiInstanceActivityBehavior#resolveLoopCardinality."""
    value = evaluate(activity_id, "the loopCardinality", raw, values)
    if isinstance(value, float) and not math.isfinite(value):  # Java's intValue: NaN is 0
        return 0 if math.isnan(value) else (2**31 - 1 if value > 0 else -(2**31))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    if isinstance(value, str):
        raise MultiInstanceRefused(f'For input string: "{value}"')  # NumberFormatException
    raise MultiInstanceRefused(
        "ENGINE-02027 Could not resolve expression of type 'loopCardinality'. Expression "
        f"'{_text(raw)}' needs to be a number or number String."
    )


def _collection(
    run: Run, execution_id: str, activity: Activity, loop: LoopCharacteristics, values: Any
) -> list[Any] | None:
    """The collection: needed for the count without a cardinality, else only to hand out
    elements (Camunda evaluates it only then). Raises MultiInstanceRefused, EvaluationError."""
    source = loop.collection
    if source is None or (loop.cardinality is not None and loop.element_variable is None):
        return None
    if isinstance(source, Expression):
        found = evaluate(activity.id, "the collection", source, values)
        if not isinstance(found, list):
            raise MultiInstanceRefused(
                f"ENGINE-02024 Expression '{source.text}' didn't resolve to type 'Collection'."
            )
        return found
    variable = run.typed_variables(execution_id).get(source)
    found = None if variable is None else plain(variable)
    if not isinstance(found, list):
        raise MultiInstanceRefused(
            f"ENGINE-02025 Variable '{source}' is not of the expected type 'Collection'."
        )
    return found


def start_body(run: Run, execution_id: str, activity: Activity) -> None:
    """A token enters a multi-instance activity: it becomes the body and starts the first
    instance (sequential) or all of them (parallel); with none, it leaves at once."""
    loop = activity.loop
    assert loop is not None
    count, collection = cardinality(run, execution_id, activity)
    instance = f"{activity.id}{BODY}:{run.ids.new_id()}"
    body = run.update(execution_id, activity_instance_id=instance)
    run.fx.activities.append(
        ActivityEvent(
            instance,
            activity.id + BODY,
            started=True,
            ended=False,
            activity_type="multiInstanceBody",
            parent_id=run.parent_activity(body),
            execution_id=execution_id,
        )
    )
    if count == 0:
        run.end_activity(execution_id)
        run.leave(execution_id)
        return
    catching.arm_boundary_events(run, execution_id, activity.id)
    counters = {INSTANCES: count, COMPLETED: 0, ACTIVE: 1 if loop.sequential else count}
    run.update(execution_id, variables={k: _integer(v) for k, v in counters.items()})
    if loop.sequential:
        _perform(run, execution_id, activity, 0, collection)
        return
    pushed = len(run.stack)
    for index in range(count):
        _perform(run, execution_id, activity, index, collection)
    run.stack[pushed:] = reversed(run.stack[pushed:])  # the first instance moves on first


def _perform(
    run: Run, body_id: str, activity: Activity, index: int, collection: list[Any] | None
) -> None:
    """Start instance ``index``: its loop variables on it (parallel) or on the body."""
    loop = activity.loop
    assert loop is not None
    locals_ = {LOOP_COUNTER: _integer(index)}
    if loop.element_variable is not None and collection is not None:
        locals_[loop.element_variable] = _element(activity.id, collection, index)
    body = run.get(body_id)
    child = Execution(run.ids.new_id(), body_id, body.scope_id, activity.id)
    if loop.sequential:
        run.update(body_id, variables={**body.variables, **locals_})
    else:
        child = Execution(child.id, body_id, body.scope_id, activity.id, variables=locals_)
    run.put(child)
    run.begin(child.id, activity)


def _element(activity_id: str, collection: list[Any], index: int) -> TypedValue:
    try:
        return typed(collection[index])
    except IndexError:  # shorter than the cardinality, or shrunk between sequential instances
        message = f"The collection of '{activity_id}' has no element {index}"
        raise MultiInstanceRefused(message) from None
    except ExpressionError as exc:
        raise EvaluationError(activity_id, "the collection element", exc) from None


def kept_locals(run: Run, execution: Execution) -> dict[str, TypedValue]:
    """The locals a parallel instance keeps when its activity ends (its loop variables, for
    the completion condition)."""
    activity = run.model.elements.get(execution.element_id or "")
    loop = getattr(activity, "loop", None)
    if loop is None or loop.sequential or not run.is_instance(execution):
        return {}
    names = (LOOP_COUNTER, loop.element_variable)
    return {n: v for n, v in execution.variables.items() if n in names}


def instance_done(run: Run, instance_id: str) -> None:
    """An instance ended (completed, or its path ended): count it, then start the next one
    (sequential) or, once the condition holds or none is left, leave the activity."""
    instance = run.get(instance_id)
    body = run.get(instance.parent_id or "")
    activity = run.model.elements[body.element_id or ""]
    assert isinstance(activity, Activity)
    loop = activity.loop
    assert loop is not None
    counts = {n: int(body.variables[n]["value"]) for n in (INSTANCES, ACTIVE, COMPLETED)}
    counts[COMPLETED] += 1
    if not loop.sequential:
        counts[ACTIVE] -= 1
    variables = {**body.variables, **{n: _integer(v) for n, v in counts.items()}}
    body = run.update(body.id, variables=variables)
    if loop.sequential:
        run.release(instance_id)
        run.remove(instance_id)
        done = int(body.variables[LOOP_COUNTER]["value"]) + 1
        if done == counts[INSTANCES] or _condition(run, body.id, activity.id, loop):
            _leave(run, body.id)
        else:
            collection = _collection(run, body.id, activity, loop, run.values(body.id))
            _perform(run, body.id, activity, done, collection)
        return
    satisfied = _condition(run, instance_id, activity.id, loop)
    run.release(instance_id)
    run.remove(instance_id)
    if satisfied or not run.has_children(body.id):
        _leave(run, body.id)


def _condition(run: Run, execution_id: str, activity_id: str, loop: LoopCharacteristics) -> bool:
    """MultiInstanceActivityBehavior#completionConditionSatisfied."""
    if loop.completion_condition is None:
        return False
    raw = loop.completion_condition
    value = evaluate(activity_id, "the completionCondition", raw, run.values(execution_id))
    if not isinstance(value, bool):
        raise MultiInstanceRefused(
            "ENGINE-02028 Could not resolve expression of type 'completionCondition'. "
            f"Expression '{_text(raw)}' needs to evaluate to a boolean value."
        )
    return value


def _leave(run: Run, body_id: str) -> None:
    """The body is done: remaining instances are cancelled and its timers dropped; its
    outgoing flows' conditions still see its counters (as Camunda's), then its locals go."""
    run.cancel_inside(body_id)
    run.release(body_id)
    run.end_activity(body_id)
    run.leave(body_id)
    if body_id in run.executions:  # it moved on (it is entered later in the step)
        run.update(body_id, variables={})
