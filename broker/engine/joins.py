"""Join rules of parallel and inclusive gateways (pure functions of the model and the tokens).

Tokens waiting at a join carry the id of the flow they arrived by. A **parallel** join fires
when every incoming flow has a waiting token of the same scope execution; it consumes one token
per flow (the earliest), so surplus tokens on one flow wait for the next round (BPMN's rule;
Camunda counts tokens instead of flows). An **inclusive** join fires when every incoming flow
has a waiting token, or else when no other token of its scope execution can still reach it:
reachability follows outgoing flows and boundary events (a token inside a sub-process counts as
being at that sub-process). Inclusive joins are checked once the step has brought every token to
a wait state, and again after each firing, so a join also fires when the last token that could
have reached it ends elsewhere (where Camunda 7 would stay stuck).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from redtask.broker.bpmn import BoundaryEvent, FlowNode, ProcessModel
from redtask.broker.engine.state import Execution

Waiting = Mapping[str, Mapping[str, None]]
"""The ids of the tokens waiting at one join, by the incoming flow they arrived by."""


def one_per_flow(gateway: FlowNode, waiting: Waiting, rank: Mapping[str, int]) -> list[str]:
    """The earliest-created waiting token of each incoming flow that has one, in flow order."""
    chosen = []
    for flow_id in dict.fromkeys(gateway.incoming):
        tokens = waiting.get(flow_id)
        if tokens:
            chosen.append(min(tokens, key=rank.__getitem__))
    return chosen


def parallel_ready(gateway: FlowNode, waiting: Waiting) -> bool:
    if len(waiting) < len(gateway.incoming):  # O(1) for every arrival but the last
        return False
    return all(flow_id in waiting for flow_id in gateway.incoming)


def inclusive_ready(
    gateway: FlowNode, waiting: Waiting, tokens: Sequence[Execution], reaching: frozenset[str]
) -> bool:
    """``tokens`` are the children of the join's scope execution, ``reaching`` the elements
    from which the join can still be reached (:func:`reaching`)."""
    if not waiting:
        return False
    if parallel_ready(gateway, waiting):
        return True
    here = {t for ids in waiting.values() for t in ids}
    return not any(
        t.element_id in reaching for t in tokens if t.id not in here and t.element_id is not None
    )


def reaching(model: ProcessModel, target: str) -> frozenset[str]:
    """The elements from which a token may still arrive at ``target`` (same scope), target
    included: following flows and boundary events backwards, once for all tokens."""
    seen = {target}
    todo = [target]
    while todo:
        element = model.elements[todo.pop()]
        before = [flow.source for flow in model.flows_into(element.id)]
        if isinstance(element, BoundaryEvent):
            before.append(element.attached_to)
        for previous in before:
            if previous not in seen:
                seen.add(previous)
                todo.append(previous)
    return frozenset(seen)
