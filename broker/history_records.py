"""Historic process instances as Camunda's HistoricProcessInstanceDto reports them: each with
its deployed definition (name and version; None once the deployment is deleted) and the start
event it began at, and sortable by ``definitionName`` and ``definitionVersion`` too."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redtask.broker.bpmn import NoInitialStartEvent
from redtask.broker.definition_model import DefinitionNotFound, ProcessDefinition
from redtask.broker.definition_reads import DefinitionReads
from redtask.broker.history import HISTORY_SORT, HistoricInstance, History, HistoryQuery
from redtask.broker.instance_reads import sort_and_page

ByDefinition = Mapping[str, ProcessDefinition | None]
# what a historic query may sort by: the instance's fields and its definition's
HISTORIC_RECORD_SORT = frozenset({*HISTORY_SORT, "definitionName", "definitionVersion"})


@dataclass(frozen=True, slots=True)
class HistoricRecord:
    instance: HistoricInstance
    definition: ProcessDefinition | None
    start_activity_id: str | None


class HistoricRecords:
    def __init__(self, history: History, definitions: DefinitionReads) -> None:
        self.history = history
        self.definitions = definitions

    async def query(
        self,
        query: HistoryQuery,
        sorting: Sequence[tuple[str, str]] = (),
        first_result: int | None = None,
        max_results: int | None = None,
    ) -> list[HistoricRecord]:
        """The records ``query`` matches, sorted (ties by id) and paged."""
        found = await self.history.query_history(query)
        by_definition: ByDefinition = {}
        if any(name in ("definitionName", "definitionVersion") for name, _ in sorting):
            by_definition = await self._definitions(found)
        fields = _sort_fields(by_definition)
        page = sort_and_page(found, fields, sorting, first_result, max_results)
        return await self.records(page, by_definition or None)

    async def get(self, instance_id: str) -> HistoricRecord | None:
        """A running or kept ended instance's record; None when unknown or expired."""
        found = await self.history.get_historic_instance(instance_id)
        return None if found is None else (await self.records([found]))[0]

    async def records(
        self, found: Sequence[HistoricInstance], by_definition: ByDefinition | None = None
    ) -> list[HistoricRecord]:
        if by_definition is None:
            by_definition = await self._definitions(found)
        starts = await self._start_events(by_definition)
        return [
            HistoricRecord(
                i, by_definition[i.definition_id], i.start_activity_id or starts[i.definition_id]
            )
            for i in found
        ]

    async def _definitions(self, found: Sequence[HistoricInstance]) -> ByDefinition:
        """The deployed definition of each instance (None when it is not deployed)."""

        async def one(definition_id: str) -> ProcessDefinition | None:
            try:
                return await self.definitions.definition(definition_id)
            except DefinitionNotFound:
                return None

        ids = list(dict.fromkeys(i.definition_id for i in found))
        return dict(zip(ids, await asyncio.gather(*map(one, ids)), strict=True))

    async def _start_events(self, found: ByDefinition) -> dict[str, str | None]:
        """The none start event of each deployed definition: where its instances started."""

        async def one(definition_id: str) -> str | None:
            try:
                return (await self.definitions.get_model(definition_id)).start_event().id
            except (DefinitionNotFound, NoInitialStartEvent):
                return None

        ids = [i for i, d in found.items() if d is not None]
        starts = dict(zip(ids, await asyncio.gather(*map(one, ids)), strict=True))
        return {i: starts.get(i) for i in found}


def _sort_fields(by_definition: ByDefinition) -> dict[str, Callable[[HistoricInstance], Any]]:
    """HISTORY_SORT, plus the fields read from each instance's deployed definition."""

    def name(i: HistoricInstance) -> str | None:
        definition = by_definition.get(i.definition_id)
        return None if definition is None else definition.name

    def version(i: HistoricInstance) -> int | None:
        definition = by_definition.get(i.definition_id)
        return None if definition is None else definition.version

    return {**HISTORY_SORT, "definitionName": name, "definitionVersion": version}
