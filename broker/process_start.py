"""Starting a process instance of a deployed definition, safe against a deployment deleted
at the same time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redtask.broker.definition_model import DefinitionNotFound, ProcessDefinition
from redtask.broker.definition_reads import DefinitionReads
from redtask.broker.engine import InstanceState
from redtask.broker.instances import ProcessRuntime, StartTimerTaken

__all__ = ["ProcessStarter", "StartTimerTaken"]


class ProcessStarter:
    def __init__(self, definitions: DefinitionReads, runtime: ProcessRuntime) -> None:
        self.definitions = definitions
        self.runtime = runtime

    async def start(
        self,
        definition: ProcessDefinition,
        raw_variables: Mapping[str, Any] | None = None,
        business_key: str | None = None,
        *,
        start_event_id: str | None = None,
        claim: Mapping[str, Any] | None = None,
    ) -> InstanceState:
        """Start an instance of ``definition`` at ``start_event_id`` (default: its initial
        start event); returns its state after the first steps. ``claim``: the due time of a
        timer start event that this start consumes (StartTimerTaken when another did).

        A deployment deleted meanwhile may have walked its instances before this one was
        committed, so the definition is looked up again afterwards: if it is gone, the instance
        is cancelled (nothing may run on a definition that is gone) and DefinitionNotFound is
        raised. Raises InvalidVariable and engine errors (e.g. NoOutgoingFlow) with nothing
        stored.
        """
        model = await self.definitions.get_model(definition.id)
        state, _ = await self.runtime.start_instance(
            model,
            definition.id,
            raw_variables,
            business_key,
            definition.tenant_id,
            version_tag=definition.version_tag,
            start_event_id=start_event_id,
            claim=claim,
        )
        try:
            await self.definitions.definition(definition.id)
        except DefinitionNotFound:
            await self.runtime.cancel_instance(state.instance_id, model=model)
            raise
        return state
