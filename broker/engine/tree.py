"""A mutable working copy of an instance's execution tree, used during one step only.

Holds the executions, process variables and timers, resolves variables along the scope chain
(Camunda's rules) and removes executions together with what they wait for, recording the
cancellations as effects.

Indexes kept by ``put``, ``remove``, ``add_timer``, ``drop_timer``, ``subscribe`` and ``release``
(the only writers) make each lookup a step needs cost O(1) or O(answer): the children of an
execution, the tokens waiting at a join by incoming flow, the timers and event subscriptions of
an execution and every execution's creation rank. So a
step is linear in the number of tokens, however wide a fork or join.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from redtask.broker.bpmn import FlowNode
from redtask.broker.engine.activities import ActivityEvent, activity_type
from redtask.broker.engine.effects import EffectsBuilder, Subscription
from redtask.broker.engine.errors import EngineError
from redtask.broker.engine.state import (
    EventSubscription,
    Execution,
    InstanceState,
    Status,
    Timer,
    TypedValue,
)
from redtask.broker.engine.values import plain_values

JoinKey = tuple[str | None, str]
"""(scope execution id, join gateway id)."""


class Tree:
    def __init__(self, state: InstanceState) -> None:
        self.instance_id = state.instance_id
        self.definition_id = state.definition_id
        self.business_key = state.business_key
        self.tenant_id = state.tenant_id
        self.status: Status = state.status
        self.executions: dict[str, Execution] = {}
        self.rank: dict[str, int] = {}  # creation order, for "the earliest token"
        self.kids: dict[str | None, dict[str, None]] = {}  # parent id -> child ids, in order
        self.joined: dict[JoinKey, dict[str, dict[str, None]]] = {}  # -> flow id -> token ids
        self.timers: dict[str, Timer] = {}
        self.timers_of: dict[str, dict[str, None]] = {}  # execution id -> timer ids
        for execution in state.executions:
            self.put(execution)
        for timer in state.timers:
            self.add_timer(timer)
        # execution id -> element id -> its subscription (creation order)
        self.subscriptions: dict[str, dict[str, EventSubscription]] = {}
        for subscription in state.subscriptions:
            by_element = self.subscriptions.setdefault(subscription.execution_id, {})
            by_element[subscription.element_id] = subscription
        self.variables = dict(state.variables)
        self.call = state.call
        self.fx = EffectsBuilder()

    def snapshot(self) -> InstanceState:
        return InstanceState(
            instance_id=self.instance_id,
            definition_id=self.definition_id,
            business_key=self.business_key,
            tenant_id=self.tenant_id,
            status=self.status,
            executions=tuple(self.executions.values()),
            variables=dict(self.variables),
            timers=tuple(self.timers.values()),
            call=self.call,
            subscriptions=tuple(s for by in self.subscriptions.values() for s in by.values()),
        )

    # navigation ---------------------------------------------------------------------------

    def get(self, execution_id: str) -> Execution:
        try:
            return self.executions[execution_id]
        except KeyError:
            raise EngineError(f"Execution {execution_id} does not exist") from None

    def put(self, execution: Execution) -> Execution:
        old = self.executions.get(execution.id)
        if old is not None:
            self._unindex(old)
        else:
            self.rank[execution.id] = len(self.rank)
            self.kids.setdefault(execution.parent_id, {})[execution.id] = None
        self.executions[execution.id] = execution
        wait = execution.wait
        if wait is not None and wait.kind == "join" and execution.element_id is not None:
            flows = self.joined.setdefault((execution.parent_id, execution.element_id), {})
            flows.setdefault(wait.ref, {})[execution.id] = None
        return execution

    def remove(self, execution_id: str) -> None:
        """Remove an execution; the activity instance it is in (if any) ends with it."""
        self.end_activity(execution_id)
        execution = self.executions.pop(execution_id)
        self._unindex(execution)
        siblings = self.kids[execution.parent_id]
        del siblings[execution_id]
        if not siblings:
            del self.kids[execution.parent_id]

    def _unindex(self, execution: Execution) -> None:
        wait = execution.wait
        if wait is not None and wait.kind == "join" and execution.element_id is not None:
            key = (execution.parent_id, execution.element_id)
            flows = self.joined[key]
            tokens = flows[wait.ref]
            del tokens[execution.id]
            if not tokens:
                del flows[wait.ref]
                if not flows:
                    del self.joined[key]

    def add_timer(self, timer: Timer) -> None:
        self.timers[timer.id] = timer
        self.timers_of.setdefault(timer.execution_id, {})[timer.id] = None

    def drop_timer(self, timer_id: str) -> Timer | None:
        timer = self.timers.pop(timer_id, None)
        if timer is not None:
            mine = self.timers_of[timer.execution_id]
            del mine[timer_id]
            if not mine:
                del self.timers_of[timer.execution_id]
        return timer

    def subscribe(self, subscription: EventSubscription) -> None:
        """Add or replace the execution's subscription for its element; a message one is
        reported as opened."""
        mine = self.subscriptions.setdefault(subscription.execution_id, {})
        if subscription.kind == "message" and subscription.element_id not in mine:
            self.fx.opened[self.message_subscription(subscription)] = None
        mine[subscription.element_id] = subscription

    def message_subscription(self, subscription: EventSubscription) -> Subscription:
        return Subscription(
            subscription.name, subscription.execution_id, subscription.element_id, self.business_key
        )

    def update(self, execution_id: str, **changes: Any) -> Execution:
        return self.put(replace(self.get(execution_id), **changes))

    def children(self, execution_id: str) -> list[Execution]:
        """The execution's children, in creation order."""
        return [self.executions[i] for i in self.kids.get(execution_id, ())]

    def has_children(self, execution_id: str) -> bool:
        return execution_id in self.kids

    def waiting_at(self, parent_id: str | None, gateway_id: str) -> dict[str, dict[str, None]]:
        """The ids of the tokens of a scope execution waiting at a join, by incoming flow."""
        return self.joined.get((parent_id, gateway_id), {})

    def is_instance(self, execution: Execution) -> bool:
        """Whether an execution is one instance of a multi-instance activity: its parent, the
        multi-instance body, is at the same element (nothing else nests that way)."""
        parent = self.executions.get(execution.parent_id or "")
        return (
            parent is not None
            and parent.parent_id is not None
            and parent.element_id == execution.element_id
        )

    def lineage(self, execution_id: str) -> list[Execution]:
        """The execution, its parent, ... up to the root."""
        chain = [self.get(execution_id)]
        while chain[-1].parent_id is not None:
            chain.append(self.get(chain[-1].parent_id))
        return chain

    def subtree(self, execution_id: str) -> list[Execution]:
        """The execution's descendants (not itself), in creation order."""
        inside = {execution_id}
        found = []
        for execution in self.executions.values():  # parents are created before children
            if execution.parent_id in inside:
                inside.add(execution.id)
                found.append(execution)
        return found

    # variables ----------------------------------------------------------------------------

    def typed_variables(self, execution_id: str) -> dict[str, TypedValue]:
        """Every variable visible from an execution: locals hide those of outer scopes."""
        visible = dict(self.variables)
        for execution in reversed(self.lineage(execution_id)):
            visible.update(execution.variables)
        return visible

    def values(self, execution_id: str) -> dict[str, Any]:
        return plain_values(self.typed_variables(execution_id))

    def set_variable(self, execution_id: str, name: str, value: TypedValue) -> None:
        """Camunda's setVariable: the nearest scope that has the name, else the process."""
        for execution in self.lineage(execution_id):
            if execution.parent_id is not None and name in execution.variables:
                self.set_local(execution.id, name, value)
                return
        self.variables[name] = value

    def set_local(self, execution_id: str, name: str, value: TypedValue) -> None:
        execution = self.get(execution_id)
        if execution.parent_id is None:
            self.variables[name] = value
        else:
            self.put(replace(execution, variables={**execution.variables, name: value}))

    # activity instances -------------------------------------------------------------------

    def parent_activity(self, execution: Execution) -> str:
        """The activity instance an execution's activities run in: the enclosing sub-process's,
        else the process instance (Camunda's parentActivityInstanceId)."""
        parent = self.executions.get(execution.parent_id or "")
        if parent is None or parent.parent_id is None:
            return self.instance_id
        return parent.activity_instance_id or self.instance_id

    def passed(self, execution_id: str, element: FlowNode, *, complete_scope: bool = False) -> None:
        """An activity entered and left within this step."""
        execution = self.get(execution_id)
        self.fx.activities.append(
            ActivityEvent(
                None,
                element.id,
                started=True,
                ended=True,
                activity_type=activity_type(element),
                parent_id=self.parent_activity(execution),
                execution_id=execution_id,
                complete_scope=complete_scope,
            )
        )

    def started(
        self, execution_id: str, element: FlowNode, instance: str, task_id: str | None = None
    ) -> None:
        """An activity a token now waits in, until a later step ends it."""
        execution = self.update(execution_id, activity_instance_id=instance)
        self.fx.activities.append(
            ActivityEvent(
                instance,
                element.id,
                started=True,
                ended=False,
                activity_type=activity_type(element),
                parent_id=self.parent_activity(execution),
                execution_id=execution_id,
                task_id=task_id,
            )
        )

    def end_activity(self, execution_id: str, *, canceled: bool = False) -> None:
        """End the activity instance the execution is in, if it is in one. An instance of a
        multi-instance activity that ends without being cancelled completes its scope (it has
        no outgoing flows of its own: Camunda's ``end(true)``)."""
        execution = self.executions[execution_id]
        if execution.activity_instance_id is None or execution.element_id is None:
            return
        self.fx.activities.append(
            ActivityEvent(
                execution.activity_instance_id,
                execution.element_id,
                started=False,
                ended=True,
                canceled=canceled,
                complete_scope=not canceled and self.is_instance(execution),
            )
        )
        self.executions[execution_id] = replace(execution, activity_instance_id=None)

    # cancellation -------------------------------------------------------------------------

    def release(self, execution_id: str) -> Execution:
        """Drop what an execution waits for, its timers and its event subscriptions (boundary
        ones too), recording the deleted task, cancelled timers, closed message subscriptions
        and cancelled called instance; returns it without its wait."""
        execution = self.get(execution_id)
        wait = execution.wait
        if wait is not None and wait.kind == "task":
            self.fx.delete_task(wait.ref)
        elif wait is not None and wait.kind == "call":
            self.fx.cancel_call(wait.ref)
        elif wait is not None and wait.kind == "message" and execution.element_id is not None:
            self.fx.close(
                Subscription(wait.ref, execution.id, execution.element_id, self.business_key)
            )
        for timer_id in list(self.timers_of.get(execution_id, ())):
            self.drop_timer(timer_id)
            self.fx.cancel_timer(timer_id)
        for subscription in self.subscriptions.pop(execution_id, {}).values():
            if subscription.kind == "message":
                self.fx.close(self.message_subscription(subscription))
        return self.put(replace(execution, wait=None))

    def cancel_inside(self, execution_id: str) -> None:
        """Remove every descendant of an execution with everything it waits for."""
        for execution in self.subtree(execution_id):
            self.end_activity(execution.id, canceled=True)
            self.release(execution.id)
            self.remove(execution.id)

    def clear_scope(self, execution_id: str, *, canceled: bool = False) -> Execution:
        """End the activity an execution is in (``canceled``: interrupted): cancel its inside,
        wait and timers and drop its local variables and activity instance (the token itself
        stays, ready to move on)."""
        self.cancel_inside(execution_id)
        self.release(execution_id)
        self.end_activity(execution_id, canceled=canceled)
        return self.update(execution_id, variables={})

    def finish(self, ending: Status) -> None:
        """End the instance: every execution is removed with what it waits for."""
        root = next(e for e in self.executions.values() if e.parent_id is None)
        self.cancel_inside(root.id)
        self.release(root.id)  # the timers and subscriptions of its event sub-processes
        self.remove(root.id)
        self.status = ending
        self.fx.ended = "terminated" if ending == "terminated" else "completed"
