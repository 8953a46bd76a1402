"""Joins within a step: a parallel join fires when a token arrives and every flow has one,
an inclusive join once every token waits (``broker.engine.joins`` has the rules)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from redtask.broker.bpmn import InclusiveGateway, ParallelGateway
from redtask.broker.engine import joins

if TYPE_CHECKING:
    from redtask.broker.engine.run import Run


def try_parallel_join(run: Run, execution_id: str, gateway: ParallelGateway) -> None:
    parent_id = run.get(execution_id).parent_id
    assert parent_id is not None
    waiting = run.waiting_at(parent_id, gateway.id)
    if joins.parallel_ready(gateway, waiting):
        merge(run, joins.one_per_flow(gateway, waiting, run.rank), gateway)


def fire_inclusive_join(run: Run) -> bool:
    """Fire the first ready inclusive join (creation order of its tokens), if any."""
    candidates = [
        (min(run.rank[t] for tokens in flows.values() for t in tokens), key)
        for key, flows in run.joined.items()
        if key[0] is not None and isinstance(run.model.elements.get(key[1]), InclusiveGateway)
    ]
    for _, (parent_id, gateway_id) in sorted(candidates):
        assert parent_id is not None
        gateway = run.model.elements[gateway_id]
        assert isinstance(gateway, InclusiveGateway)
        waiting = run.waiting_at(parent_id, gateway_id)
        if gateway_id not in run.reaching:
            run.reaching[gateway_id] = joins.reaching(run.model, gateway_id)
        if joins.inclusive_ready(
            gateway, waiting, run.children(parent_id), run.reaching[gateway_id]
        ):
            merge(run, joins.one_per_flow(gateway, waiting, run.rank), gateway)
            return True
    return False


def merge(run: Run, tokens: Sequence[str], gateway: ParallelGateway | InclusiveGateway) -> None:
    """The earliest-created token goes on; the other joined tokens end silently."""
    keep = min(tokens, key=run.rank.__getitem__)
    for token in tokens:
        if token != keep:
            run.remove(token)
    run.update(keep, wait=None)
    run.fork(keep, gateway)
