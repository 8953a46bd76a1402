"""Call activities across instances: one commit for a step and everything it causes in the
instances it calls or was called by.

A step of one instance may start called instances (``Effects.calls``), cancel them
(``calls_cancelled``), or end an instance that a call activity waits for (it completed, was
deleted, or escalated a BPMN error its caller catches). :class:`Cascade` computes the steps these
cause, transitively (a called instance that ends at once continues its caller in the same
commit), and sends them all in one ``advance`` call guarded by every instance's version. A
called instance gets its id from its caller's partition, so a whole call tree lives in one
partition and this is always one atomic script: a crash leaves either all of it or none, and a
conflict on any instance recomputes the whole command.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from redtask.broker import engine
from redtask.broker.bpmn import ProcessModel
from redtask.broker.definition_model import ProcessDefinition
from redtask.broker.definition_reads import DefinitionReads
from redtask.broker.engine import CalledElementNotFound, Effects, InstanceState
from redtask.broker.errors import OK, BrokerError, InstanceNotFound, InvalidArgument
from redtask.broker.instance_repository import NO_TRIGGER, Block, InstanceRepository

ModelSource = Callable[[str], Awaitable[ProcessModel]]
MAX_STEPS = 1_000
"""Steps one commit may take across instances (bounded work per request)."""
MAX_INSTANCES = 1_000
"""Instances one commit may change (advance.lua's MAX_BLOCKS)."""


class CalledDefinitions:
    """Camunda's CallableElementUtil#getProcessDefinitionToCall on redtask's definitions."""

    def __init__(self, reads: DefinitionReads) -> None:
        self.reads = reads

    async def find(self, call: engine.NewCall, caller_definition_id: str) -> ProcessDefinition:
        """The definition a call activity calls. Raises CalledElementNotFound."""
        key, tenant = call.key, call.tenant_id
        if call.binding == "latest":
            found = await self.reads.latest_by_key(key, tenant)
            what = f"no processes deployed with key '{key}'"
            if tenant is not None:
                what += f" and tenant-id '{tenant}'"
            return _found(found, what)
        versions = await self._versions(key, tenant)
        shown_tenant = "null" if tenant is None else tenant
        if call.binding == "deployment":
            caller = await self.reads.definition(caller_definition_id)
            deployed = [d for d in versions if d.deployment_id == caller.deployment_id]
            what = f"no processes deployed with key = '{key}' in deployment = "
            return _found(deployed[-1] if deployed else None, what + f"'{caller.deployment_id}'")
        if call.binding == "version":
            matching = [d for d in versions if str(d.version) == (call.version or "").strip()]
            what = f"no processes deployed with key = '{key}', version = '{call.version}'"
        else:
            matching = [d for d in versions if d.version_tag == call.version_tag]
            what = f"no processes deployed with key = '{key}', versionTag = '{call.version_tag}'"
            if len(matching) > 1:  # ProcessDefinitionManager: the tag must be unique
                raise engine.SeveralDefinitions(
                    f"ENGINE-03045 There are '{len(matching)}' results for a process definition "
                    f"with key '{key}', versionTag '{call.version_tag}' and tenant-id '{{}}'."
                )
        return _found(
            matching[-1] if matching else None, what + f" and tenant-id = '{shown_tenant}'"
        )

    async def _versions(self, key: str, tenant: str | None) -> list[ProcessDefinition]:
        """Every deployed version of ``key`` for ``tenant``, oldest first."""
        keys = self.reads.keys
        ids = await self.reads.db.execute("ZRANGE", keys.definition_versions(tenant, key), 0, -1)
        found = await self.reads.definitions_by(self.reads.db.execute, map(str, ids))
        return sorted(found, key=lambda d: d.version)


class TooManyInstances(engine.EngineError, InvalidArgument):
    """A step would change more instances (or take more steps in them) than one commit may:
    refused, nothing stored."""

    def __init__(self, instance_id: str, count: int, *, steps: bool = False) -> None:
        limit, what = (MAX_STEPS, "steps") if steps else (MAX_INSTANCES, "process instances")
        super().__init__(
            f"A step of process instance {instance_id} would take {count} {what} through call "
            f"activities, more than the limit of {limit}"
        )


def _found(definition: ProcessDefinition | None, what: str) -> ProcessDefinition:
    if definition is None:
        raise CalledElementNotFound(what)
    return definition


class Cascade:
    def __init__(
        self,
        repo: InstanceRepository,
        models: Callable[[], ModelSource | None],
        definitions: CalledDefinitions | None,
        written: Callable[[Sequence[Block]], None] | None = None,
    ) -> None:
        self.repo = repo
        self.models = models
        self.definitions = definitions
        self.written = written  # told the blocks of each commit that went in

    async def commit(self, first: Block, trigger: Mapping[str, Any] = NO_TRIGGER) -> list[Any]:
        """Commit ``first`` (a step of one instance) with every step it causes in called and
        calling instances. Raises what those steps raise (CalledElementNotFound, CallTooDeep,
        engine errors): nothing is written then."""
        blocks = [first]
        if _causes_more(first.state, first.effects):
            run = _Run(self, first)
            await run.resolve()
            blocks = run.blocks()
            if len(blocks) > MAX_INSTANCES:
                raise TooManyInstances(first.state.instance_id, len(blocks))
        reply = await self.repo.commit_blocks(blocks, trigger)
        if self.written is not None and int(reply[0]) == OK:
            self.written(blocks)
        return reply

    async def model(self, definition_id: str) -> ProcessModel:
        models = self.models()
        if models is None:
            raise BrokerError("no process definitions are available to this store")
        return await models(definition_id)


def _causes_more(state: InstanceState, effects: Effects) -> bool:
    return bool(effects.calls or effects.calls_cancelled) or (
        state.call is not None and effects.ended is not None
    )


class _Run:
    """One cascade: the pending block of every instance touched, and the steps to inspect."""

    def __init__(self, cascade: Cascade, first: Block) -> None:
        self.cascade = cascade
        self.repo = cascade.repo
        self.pending: dict[str, Block] = {first.state.instance_id: first}
        self.queue: deque[tuple[InstanceState, Effects]] = deque([(first.state, first.effects)])
        self.cancelled: set[str] = set()  # called instances cancelled by their caller
        self.internal: set[str] = set()  # instances terminated internally (not by a delete)
        self.steps = 0

    def blocks(self) -> list[Block]:
        """The blocks to commit; one an event ended from inside its call tree (a boundary
        event of its caller, an escalated error) is internally terminated, as in Camunda."""
        return [
            replace(b, status="internally_terminated")
            if i in self.internal and b.state.status == "terminated"
            else b
            for i, b in self.pending.items()
        ]

    async def resolve(self) -> None:
        while self.queue:
            self.steps += 1
            if self.steps > MAX_STEPS:
                raise TooManyInstances(next(iter(self.pending)), self.steps, steps=True)
            state, effects = self.queue.popleft()
            for call in effects.calls:
                await self.start(state, call)
            if effects.escalated is not None:
                self.internal.add(state.instance_id)
            for child_id in effects.calls_cancelled:
                self.cancelled.add(child_id)
                if state.status != "terminated" or state.instance_id in self.internal:
                    self.internal.add(child_id)
                await self.step(child_id, engine.cancel)
            link = state.call
            if link is None or effects.ended is None or state.instance_id in self.cancelled:
                continue
            child_id, variables = state.instance_id, dict(state.variables)
            now, limit = self.repo.clock(), {"max_bytes": self.repo.settings.max_variables_bytes}
            ids = self.repo.ids(link.super_instance_id)
            caller = link.super_instance_id
            if effects.escalated is not None:
                code, message = effects.escalated
                args = (child_id, code, message, variables, now, ids)
                await self.step(caller, engine.call_error, *args, **limit)
            elif effects.ended == "completed":
                await self.step(
                    caller, engine.complete_call, child_id, variables, now, ids, **limit
                )
            else:
                await self.step(caller, engine.cancel_call, child_id, ids)

    async def start(self, caller: InstanceState, call: engine.NewCall) -> None:
        finder = self.cascade.definitions
        if finder is None:
            raise BrokerError("no process definitions are available to this store")
        definition = await finder.find(call, caller.definition_id)
        model = await self.cascade.model(definition.id)
        state, effects = engine.start(
            model,
            call.instance_id,
            call.variables,
            call.business_key,
            definition.tenant_id,
            self.repo.clock(),
            self.repo.ids(call.instance_id),
            definition_id=definition.id,
            max_bytes=self.repo.settings.max_variables_bytes,
            call=call.link,
        )
        meta = {
            "pd": definition.id,
            "pk": definition.key,
            "pvt": definition.version_tag,
            "bk": call.business_key,
            "tn": definition.tenant_id,
            "sup": call.link.super_instance_id,
            "rpi": call.link.root_instance_id,
        }
        self.pending[call.instance_id] = Block(state, effects, 0, None, meta)
        self.queue.append((state, effects))

    async def step(
        self,
        instance_id: str,
        event: Callable[..., tuple[InstanceState, Effects]],
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """Apply ``event(model, state, *args, **kwargs)`` to an instance (its pending state,
        else as stored); an instance that is gone or no longer active is left alone."""
        block = self.pending.get(instance_id)
        if block is None:
            try:
                state, version = await self.repo.read(instance_id)
            except InstanceNotFound:
                return
            block = Block(state, Effects(), version, state)
        if block.state.status != "active":
            return
        model = await self.cascade.model(block.state.definition_id)
        state, effects = event(model, block.state, *args, **kwargs)
        merged = engine.merge(block.effects, effects)
        self.pending[instance_id] = replace(block, state=state, effects=merged)
        self.queue.append((state, effects))
