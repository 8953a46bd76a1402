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

Within one process the commands of one call tree (an instance and the instances it calls,
transitively: a step of one may change the others, ``broker.call_cascade``) take turns (a lock
per tree, keyed by its root instance, held by the commands running, first come first served):
many workers completing tasks of one instance at once, e.g. of a parallel multi-instance
activity, or of the instances a multi-instance call activity called, then queue instead of all
reading one version and all but one recomputing; the version check still guards against other
processes. A command that runs another command in its own tree (in the same task) does not wait
for itself. While commands wait for their turn, the state each commit wrote of each instance of
the tree (the cascade's too) is handed to the next command instead of being read back (a
conflict, i.e. a writer elsewhere, makes it read again).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
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
BACKOFF_S = 0.0005  # the pause after the first conflict is up to this, doubling after each
MAX_BACKOFF_S = 0.02
MAX_TREES_KNOWN = 100_000  # instances whose call tree is remembered (forgotten all at once)
_HELD: ContextVar[frozenset[str]] = ContextVar("redtask_instances_held", default=frozenset())
"""The call trees whose turn the running task holds."""
_LEARNING: ContextVar[frozenset[str]] = ContextVar("redtask_instances_read", default=frozenset())
"""The instances whose call tree the running task is reading (a command it runs meanwhile on
the same instance reads for itself instead of waiting for that read)."""


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
        self._turns: dict[str, _Turn] = {}  # only call trees with commands running or waiting
        self._trees: dict[str, str] = {}  # instance id -> the root of its call tree
        self._learning: dict[str, asyncio.Future[str]] = {}  # trees being read
        self.cascade = Cascade(repo, lambda: self.models, definitions, self._written)

    async def execute(self, instance_id: str, command: Command[R], what: str) -> R:
        """Run ``command`` on the instance (in its call tree's turn) until its write is not
        refused for a conflict.

        Raises InstanceNotFound (no such instance), what the command or ``raise_for`` raise,
        and InstanceBusy naming ``what`` when the instance kept changing.
        """
        read = None
        tree = self._trees.get(instance_id)
        if tree is None:
            tree, read = await self._learn(instance_id)
        held = _HELD.get()
        if tree in held:
            return await self._attempts(instance_id, command, what, _Turn(), read)
        async with self._turn(tree) as turn:
            token = _HELD.set(held | {tree})
            try:
                return await self._attempts(instance_id, command, what, turn, read)
            finally:
                _HELD.reset(token)

    async def _learn(self, instance_id: str) -> tuple[str, tuple[engine.InstanceState, int] | None]:
        """The root of the instance's call tree (itself when not called), read once and
        remembered, with the state read (the first attempt starts from it; None for the
        commands that waited for another one's read). Raises InstanceNotFound."""
        pending = self._learning.get(instance_id)
        if pending is not None and instance_id not in _LEARNING.get():
            return await asyncio.shield(pending), None
        if pending is not None:  # a command run by the read itself: it must not wait for it
            read = await self.repo.read(instance_id)
            return _root(read[0]), read
        learnt = self._learning[instance_id] = asyncio.get_running_loop().create_future()
        reading = _LEARNING.set(_LEARNING.get() | {instance_id})
        try:
            read = await self.repo.read(instance_id)
        except BaseException as exc:
            if isinstance(exc, Exception):
                learnt.set_exception(exc)
                learnt.exception()  # retrieved: a lone reader leaves no warning
            else:
                learnt.cancel()
            raise
        finally:
            _LEARNING.reset(reading)
            del self._learning[instance_id]
        tree = _root(read[0])
        if len(self._trees) >= MAX_TREES_KNOWN:
            self._trees.clear()
        self._trees[instance_id] = tree
        learnt.set_result(tree)
        return tree, read

    @asynccontextmanager
    async def _turn(self, tree: str) -> AsyncIterator[_Turn]:
        turn = self._turns.get(tree)
        if turn is None:
            turn = self._turns[tree] = _Turn()
        turn.users += 1
        try:
            async with turn.lock:
                yield turn
        finally:
            turn.users -= 1
            if not turn.users:
                del self._turns[tree]

    async def _attempts(
        self,
        instance_id: str,
        command: Command[R],
        what: str,
        turn: _Turn,
        read: tuple[engine.InstanceState, int] | None,
    ) -> R:
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                await asyncio.sleep(random.uniform(0, min(BACKOFF_S * 2**attempt, MAX_BACKOFF_S)))
            committed = turn.committed.pop(instance_id, None)
            state, version = committed or read or await self.repo.read(instance_id)
            read = None
            found = Found(state, version, self.repo.ids(instance_id), self.cascade, self.models)
            decision = await command(found)
            if isinstance(decision, Ready):
                if committed is not None:
                    turn.offer(instance_id, *committed)
                return decision.value
            reply = await decision.send()
            if int(reply[0]) != E_CONFLICT:
                raise_for(reply, **decision.errors)
                return decision.result(reply)
        raise InstanceBusy(f"process instance {instance_id} kept changing; {what}")

    def _written(self, blocks: Sequence[Block]) -> None:
        """An ``advance`` committed ``blocks`` (one call tree): each instance it changed (the
        command's own, and the called and calling ones of a call cascade, whose final state may
        differ from what the command computed) hands its new state on to the next command in
        the tree's turn."""
        turn = self._turns.get(_root(blocks[0].state))
        if turn is not None:
            for block in blocks:
                turn.offer(block.state.instance_id, block.state, block.expected + 1)


def _root(state: engine.InstanceState) -> str:
    return state.instance_id if state.call is None else state.call.root_instance_id


class _Turn:
    """One call tree's turn: who holds or waits for it, and the state the last command
    committed of each of its instances, with its version (absent: read it)."""

    __slots__ = ("committed", "lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0
        self.committed: dict[str, tuple[engine.InstanceState, int]] = {}

    def offer(self, instance_id: str, state: engine.InstanceState, version: int) -> None:
        """Hand ``state`` at ``version`` on to the next command, unless a newer one was; an
        ended instance is read again (what its commands report comes from the store)."""
        known = self.committed.get(instance_id)
        if known is not None and known[1] >= version:
            return
        if state.status == "active":
            self.committed[instance_id] = (state, version)
        else:
            self.committed.pop(instance_id, None)
