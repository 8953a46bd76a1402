"""The one retry-on-conflict loop of the process runtime (the role Camunda's CommandExecutor
plays for its commands).

Every operation on a running instance is a *command*: an async function that is given the
instance as just read (``Found``: state, version, ids in its partition, its model on demand)
and answers either ``Ready(value)`` (nothing to write) or ``Write``: how to send its writes
(one script guarded by the version read, usually ``advance``), what to return once they are
in, and what to name in an error. The executor reads the state, runs the command, sends the
write and, when the script reports E_CONFLICT (another step of the instance committed
first), runs the command again on the fresh state, up to ``MAX_ATTEMPTS`` times, after a short
random pause that grows with each conflict (writers in other processes spread out instead of
colliding again at once).

Within one process the commands of one instance take turns (a lock per instance held by the
commands running, first come first served): many workers completing tasks of one instance at
once, e.g. of a parallel multi-instance activity, then queue instead of all reading one version
and all but one recomputing; the version check still guards against other processes. A command
that runs another command on its own instance (in the same task) does not wait for itself.
While commands wait for their turn, the state the last one committed is handed to the next one
instead of being read back (a conflict, i.e. a writer elsewhere, makes it read again).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from redtask.broker import engine
from redtask.broker.bpmn import ProcessModel
from redtask.broker.errors import E_CONFLICT, OK, BrokerError, raise_for
from redtask.broker.instance_repository import NO_TRIGGER, InstanceRepository, PartitionIds

R = TypeVar("R")
ModelSource = Callable[[str], Awaitable[ProcessModel]]
Step = tuple[engine.InstanceState, engine.Effects]
MAX_ATTEMPTS = 50
BACKOFF_S = 0.0005  # the pause after the first conflict is up to this, doubling after each
MAX_BACKOFF_S = 0.02
_HELD: ContextVar[frozenset[str]] = ContextVar("redtask_instances_held", default=frozenset())
"""The instances whose turn the running task holds."""


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
    state: engine.InstanceState | None = None  # what an advance writes (the next turn's read)


class Found:
    """One attempt's view of an instance."""

    __slots__ = ("_models", "_repo", "ids", "state", "version")

    def __init__(
        self,
        state: engine.InstanceState,
        version: int,
        ids: PartitionIds,
        repo: InstanceRepository,
        models: ModelSource | None,
    ) -> None:
        self.state = state
        self.version = version
        self.ids = ids
        self._repo = repo
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
        """The write of an engine step through ``advance``, guarded by the version read."""

        async def send() -> list[Any]:
            return await self._repo.commit(
                new_state,
                effects,
                self.version,
                trigger,
                fired_timer=fired_timer,
                before=self.state,
            )

        return Write(send, lambda _: (new_state, effects), errors or {}, new_state)


Command = Callable[[Found], Awaitable[Ready[R] | Write[R]]]


class InstanceBusy(BrokerError):
    """Every attempt of a command met a newer version of the instance (a busy instance):
    transient, the caller may try again later."""


class Executor:
    """Runs commands on instances. ``models`` loads a definition's model (the store's
    definitions by default; ``Store.models`` replaces it)."""

    def __init__(self, repo: InstanceRepository, models: ModelSource | None) -> None:
        self.repo = repo
        self.models = models
        self._turns: dict[str, _Turn] = {}  # only instances with commands running or waiting

    async def execute(self, instance_id: str, command: Command[R], what: str) -> R:
        """Run ``command`` on the instance (in its turn) until its write is not refused for a
        conflict.

        Raises InstanceNotFound (no such instance), what the command or ``raise_for`` raise,
        and InstanceBusy naming ``what`` when the instance kept changing.
        """
        held = _HELD.get()
        if instance_id in held:
            return await self._attempts(instance_id, command, what, _Turn())
        async with self._turn(instance_id) as turn:
            token = _HELD.set(held | {instance_id})
            try:
                return await self._attempts(instance_id, command, what, turn)
            finally:
                _HELD.reset(token)

    @asynccontextmanager
    async def _turn(self, instance_id: str) -> AsyncIterator[_Turn]:
        turn = self._turns.get(instance_id)
        if turn is None:
            turn = self._turns[instance_id] = _Turn()
        turn.users += 1
        try:
            async with turn.lock:
                yield turn
        finally:
            turn.users -= 1
            if not turn.users:
                del self._turns[instance_id]

    async def _attempts(self, instance_id: str, command: Command[R], what: str, turn: _Turn) -> R:
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                await asyncio.sleep(random.uniform(0, min(BACKOFF_S * 2**attempt, MAX_BACKOFF_S)))
            committed, turn.committed = turn.committed, None
            state, version = committed or await self.repo.read(instance_id)
            found = Found(state, version, self.repo.ids(instance_id), self.repo, self.models)
            decision = await command(found)
            if isinstance(decision, Ready):
                turn.committed = committed
                return decision.value
            reply = await decision.send()
            if int(reply[0]) != E_CONFLICT:
                raise_for(reply, **decision.errors)
                written = decision.state
                if int(reply[0]) == OK and written is not None and written.status == "active":
                    turn.committed = (written, int(reply[1]))
                return decision.result(reply)
        raise InstanceBusy(f"process instance {instance_id} kept changing; {what}")


class _Turn:
    """One instance's turn: who holds or waits for it, and the state the last command
    committed with its version (None: read it)."""

    __slots__ = ("committed", "lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0
        self.committed: tuple[engine.InstanceState, int] | None = None
