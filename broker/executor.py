"""The one retry-on-conflict loop of the process runtime (the role Camunda's CommandExecutor
plays for its commands).

Every operation on a running instance is a *command*: an async function that is given the
instance as just read (``Found``: state, version, ids in its partition, its model on demand)
and answers either ``Ready(value)`` (nothing to write) or ``Write``: how to send its writes
(one script guarded by the version read, usually ``advance``), what to return once they are
in, and what to name in an error. The executor reads the state, runs the command, sends the
write and, when the script reports E_CONFLICT (another step of the instance committed
first), runs the command again on the fresh state, up to ``MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from redtask.broker import engine
from redtask.broker.bpmn import ProcessModel
from redtask.broker.call_cascade import CalledDefinitions, Cascade
from redtask.broker.errors import E_CONFLICT, BrokerError, raise_for
from redtask.broker.instance_repository import (
    NO_TRIGGER,
    Block,
    InstanceRepository,
    PartitionIds,
)

R = TypeVar("R")
ModelSource = Callable[[str], Awaitable[ProcessModel]]
Step = tuple[engine.InstanceState, engine.Effects]
MAX_ATTEMPTS = 50


@dataclass(frozen=True, slots=True)
class Ready(Generic[R]):
    """A command's answer that needs no write."""

    value: R


@dataclass(frozen=True, slots=True)
class Write(Generic[R]):
    """A command's write: ``send`` runs it and returns the script's reply; ``result`` turns a
    reply that is not a conflict into the command's value; ``errors`` are ``raise_for``'s
    keyword arguments (which task, worker and operation a refusal names)."""

    send: Callable[[], Awaitable[list[Any]]]
    result: Callable[[list[Any]], R]
    errors: Mapping[str, Any] = field(default_factory=dict)


class Found:
    """One attempt's view of an instance."""

    __slots__ = ("_cascade", "_models", "ids", "state", "version")

    def __init__(
        self,
        state: engine.InstanceState,
        version: int,
        ids: PartitionIds,
        cascade: Cascade,
        models: ModelSource | None,
    ) -> None:
        self.state = state
        self.version = version
        self.ids = ids
        self._cascade = cascade
        self._models = models

    async def model(self) -> ProcessModel:
        """The model of the instance's definition. Raises DefinitionNotFound."""
        if self._models is None:
            raise BrokerError("no process definitions are available to this store")
        return await self._models(self.state.definition_id)

    def commit(
        self,
        new_state: engine.InstanceState,
        effects: engine.Effects,
        trigger: Mapping[str, Any] = NO_TRIGGER,
        *,
        errors: Mapping[str, Any] | None = None,
        fired_timer: str | None = None,
    ) -> Write[Step]:
        """The write of an engine step through ``advance``, guarded by the version read, with
        the steps it causes in called and calling instances (``broker.call_cascade``)."""

        async def send() -> list[Any]:
            block = Block(new_state, effects, self.version, self.state, None, fired_timer)
            return await self._cascade.commit(block, trigger)

        return Write(send, lambda _: (new_state, effects), errors or {})


Command = Callable[[Found], Awaitable[Ready[R] | Write[R]]]


class InstanceBusy(BrokerError):
    """Every attempt of a command met a newer version of the instance (a busy instance):
    transient, the caller may try again later."""


class Executor:
    """Runs commands on instances. ``models`` loads a definition's model (the store's
    definitions by default; ``Store.models`` replaces it)."""

    def __init__(
        self,
        repo: InstanceRepository,
        models: ModelSource | None,
        definitions: CalledDefinitions | None = None,
    ) -> None:
        self.repo = repo
        self.models = models
        self.cascade = Cascade(repo, lambda: self.models, definitions)

    async def execute(self, instance_id: str, command: Command[R], what: str) -> R:
        """Run ``command`` on the instance until its write is not refused for a conflict.

        Raises InstanceNotFound (no such instance), what the command or ``raise_for`` raise,
        and InstanceBusy naming ``what`` when the instance kept changing.
        """
        for _ in range(MAX_ATTEMPTS):
            state, version = await self.repo.read(instance_id)
            found = Found(state, version, self.repo.ids(instance_id), self.cascade, self.models)
            decision = await command(found)
            if isinstance(decision, Ready):
                return decision.value
            reply = await decision.send()
            if int(reply[0]) != E_CONFLICT:
                raise_for(reply, **decision.errors)
                return decision.result(reply)
        raise InstanceBusy(f"process instance {instance_id} kept changing; {what}")
