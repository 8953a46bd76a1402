"""Message and signal start events: which latest process definitions a message or signal
starts (Camunda's message and signal start event subscriptions), and starting them.

A deployment records, for every message and signal name one of its processes starts on, the
process in ``G msk:<name>`` / ``G sgk:<name>`` (JSON ``[tenant, key]``; never removed: a
later version without the start event, or a deleted process, simply no longer matches). A
message or signal is then matched against the *latest* version of each recorded process, so
deploying a new version replaces the old version's start events and deleting it brings back
those of the version that is latest again, as Camunda's BpmnDeployer does with subscriptions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import orjson

from redtask.broker.bpmn import ProcessModel, StartEvent
from redtask.broker.definition_model import DefinitionNotFound, ProcessDefinition
from redtask.broker.definition_reads import DefinitionReads
from redtask.broker.engine import InstanceState
from redtask.broker.errors import InvalidArgument
from redtask.broker.keys import Keys
from redtask.broker.process_start import ProcessStarter
from redtask.broker.redis_layer import RedisLayer
from redtask.broker.store_base import Clock

Kind = Literal["message", "signal"]


@dataclass(frozen=True, slots=True)
class StartMatch:
    """A latest definition whose start event ``element_id`` the message or signal starts."""

    definition: ProcessDefinition
    element_id: str


class MessageStartTaken(InvalidArgument):
    """Camunda's ENGINE-01011: another process's latest version already starts on this
    message name (for the same tenant)."""

    def __init__(self, resource: str, message_name: str) -> None:
        super().__init__(
            f"ENGINE-01011 Cannot deploy process definition '{resource}': there already is a "
            f"message event subscription for the message with name '{message_name}'."
        )


def _name_of(start: StartEvent, kind: Kind) -> str | None:
    return start.message_name if kind == "message" else start.signal_name


def start_names(model: ProcessModel, kind: Kind) -> dict[str, str]:
    """Message (or signal) name -> the first start event of the process that it starts."""
    found: dict[str, str] = {}
    for start in model.start_events():
        name = _name_of(start, kind)
        if name is not None:
            found.setdefault(name, start.id)
    return found


def registrations(keys: Keys, tenant: str | None, models: Iterable[ProcessModel]) -> list[Any]:
    """The SADD commands that record a deployment's message and signal start events."""
    commands: list[Any] = []
    for model in models:
        entry = orjson.dumps([tenant, model.key]).decode()
        for name in start_names(model, "message"):
            commands.append(("SADD", keys.message_start_processes(name), entry))
        for name in start_names(model, "signal"):
            commands.append(("SADD", keys.signal_start_processes(name), entry))
    return commands


class StartEvents:
    def __init__(
        self,
        db: RedisLayer,
        keys: Keys,
        clock: Clock,
        definitions: DefinitionReads,
        starter: ProcessStarter,
    ) -> None:
        self.db = db
        self.keys = keys
        self.clock = clock
        self.definitions = definitions
        self.starter = starter

    async def matches(
        self,
        kind: Kind,
        name: str,
        tenant_id: str | None = None,
        tenant_id_set: bool = False,
        *,
        exclude_key: str | None = None,
    ) -> list[StartMatch]:
        """The latest, active definitions with a ``kind`` start event named ``name`` (only those
        of ``tenant_id`` when ``tenant_id_set``), ordered by key and tenant."""
        key = (
            self.keys.message_start_processes(name)
            if kind == "message"
            else self.keys.signal_start_processes(name)
        )
        entries = sorted(cast(set[str], await self.db.execute("SMEMBERS", key)))
        found = []
        for entry in entries:
            tenant, process_key = orjson.loads(entry)
            if (tenant_id_set and tenant != tenant_id) or process_key == exclude_key:
                continue
            latest = await self.definitions.latest_by_key(process_key, tenant)
            if latest is None or latest.suspended_at(self.clock()):
                continue
            try:
                model = await self.definitions.get_model(latest.id)
            except DefinitionNotFound:
                continue
            element_id = start_names(model, kind).get(name)
            if element_id is not None:
                found.append(StartMatch(latest, element_id))
        return found

    async def check_deployable(self, tenant: str | None, models: Iterable[ProcessModel]) -> None:
        """Refuse a process whose message start event's name another process already starts on
        (Camunda's BpmnDeployer#addMessageStartEventSubscription). Raises MessageStartTaken."""
        seen: dict[str, str] = {}
        for model in models:
            for name in start_names(model, "message"):
                taken = seen.get(name) is not None and seen[name] != model.key
                taken = taken or bool(
                    await self.matches("message", name, tenant, True, exclude_key=model.key)
                )
                if taken:
                    raise MessageStartTaken(model.resource_name, name)
                seen[name] = model.key

    async def start(
        self,
        match: StartMatch,
        raw_variables: Mapping[str, Any] | None = None,
        business_key: str | None = None,
    ) -> InstanceState:
        """Start an instance at the matched start event. Raises what ProcessStarter.start
        raises."""
        return await self.starter.start(
            match.definition, raw_variables, business_key, start_event_id=match.element_id
        )
