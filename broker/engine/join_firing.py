"""Firing parallel and inclusive joins in a step (the rules are ``broker.engine.joins``): the
tokens joined merge into the earliest-created one, which leaves the gateway."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from redtask.broker.bpmn import InclusiveGateway, ParallelGateway
from redtask.broker.engine import joins

if TYPE_CHECKING:
    from redtask.broker.engine.run import Run


def try_parallel(run: Run, execution_id: str, gateway: ParallelGateway) -> None:
    """A token arrived at a parallel join: fire it if every incoming flow has a token."""
    parent_id = run.get(execution_id).parent_id
    assert parent_id is not None
    waiting = run.waiting_at(parent_id, gateway.id)
    if joins.parallel_ready(gateway, waiting):
        _merge(run, joins.one_per_flow(gateway, waiting, run.rank), gateway)


def fire_inclusive(run: Run) -> bool:
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
        reaching = run.reaching[gateway_id]
        if joins.inclusive_ready(gateway, waiting, run.children(parent_id), reaching):
            _merge(run, joins.one_per_flow(gateway, waiting, run.rank), gateway)
            return True
    return False


def _merge(run: Run, tokens: Sequence[str], gateway: ParallelGateway | InclusiveGateway) -> None:
    """The earliest-created token goes on; the other joined tokens end silently."""
    keep = min(tokens, key=run.rank.__getitem__)
    for token in tokens:
        if token != keep:
            run.remove(token)
    run.update(keep, wait=None)
    run.fork(keep, gateway)
