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

from collections.abc import Sequence

from redtask.broker.bpmn import FlowNode, ProcessModel
from redtask.broker.engine.state import Execution


def waiting_at(tokens: Sequence[Execution], gateway_id: str) -> list[Execution]:
    """The tokens waiting at a join, in creation order."""
    return [
        t
        for t in tokens
        if t.element_id == gateway_id and t.wait is not None and t.wait.kind == "join"
    ]


def one_per_flow(gateway: FlowNode, waiting: Sequence[Execution]) -> list[Execution]:
    """The earliest waiting token of each incoming flow that has one, in flow order."""
    chosen = []
    for flow_id in gateway.incoming:
        token = next((t for t in waiting if t.wait is not None and t.wait.ref == flow_id), None)
        if token is not None:
            chosen.append(token)
    return chosen


def parallel_ready(gateway: FlowNode, waiting: Sequence[Execution]) -> bool:
    arrived = {t.wait.ref for t in waiting if t.wait is not None}
    return all(flow_id in arrived for flow_id in gateway.incoming)


def inclusive_ready(model: ProcessModel, gateway: FlowNode, tokens: Sequence[Execution]) -> bool:
    """``tokens`` are the children of the join's scope execution."""
    waiting = waiting_at(tokens, gateway.id)
    if not waiting:
        return False
    if parallel_ready(gateway, waiting):
        return True
    others = [t for t in tokens if t not in waiting and t.element_id is not None]
    return not any(can_reach(model, t.element_id, gateway.id) for t in others if t.element_id)


def can_reach(model: ProcessModel, source: str, target: str) -> bool:
    """Whether a token at ``source`` may still arrive at ``target`` (same scope)."""
    seen = {source}
    todo = [source]
    while todo:
        element_id = todo.pop()
        if element_id == target:
            return True
        following = [flow.target for flow in model.outgoing(element_id)]
        following += [b.id for b in model.boundary_events(element_id)]
        for next_id in following:
            if next_id not in seen:
                seen.add(next_id)
                todo.append(next_id)
    return False
