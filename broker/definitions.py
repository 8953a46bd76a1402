"""Deployments and process definitions: deploying, deleting, and (through
``broker.definition_reads``) reading them.

Every key lives under the one hash tag ``{ns}`` (see ``broker.keys``). A deployment is written
all or nothing by one MULTI/EXEC, guarded by WATCH on what it read: the version sets of its
process keys (so versions stay unique per key and tenant under concurrent deploys) and, with
duplicate filtering, the deployments of the same name. A conflicting writer makes EXEC fail
and the deployment is computed again. (MULTI/EXEC rather than a script: the BPMN must be
parsed in Python anyway, and the reads are few.)

Definitions are immutable, so ``get_model`` parses a definition's XML once per process and
keeps the model in a bounded in-process cache (``broker.definition_reads``).

Deleting a deployment whose definitions have running instances is refused without ``cascade``
(Camunda's ProcessDefinitionManager#deleteProcessDefinition); with it the instances are deleted
first, each as ``DELETE /process-instance/{id}`` deletes one (DeploymentManager#deleteDeployment).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import orjson

from redtask.broker.bpmn import ProcessModel
from redtask.broker.definition_model import (
    Deployment,
    DeploymentNotFound,
    DeploymentRequest,
    DeploymentResult,
    ParsedResource,
    ProcessDefinition,
    changed_resources,
    definition_id,
    digest,
    parse_resources,
)
from redtask.broker.definition_query import (
    DEFINITION_SORT_FIELDS,
    DEPLOYMENT_SORT_FIELDS,
    DefinitionQuery,
    DeploymentQuery,
    sort_and_page,
)
from redtask.broker.definition_reads import DefinitionReads, forget_models
from redtask.broker.errors import BrokerError, InstanceNotFound, InvalidArgument
from redtask.broker.instance_reads import running_instances_of
from redtask.broker.keys import Keys
from redtask.broker.redis_layer import RedisLayer, Transaction
from redtask.broker.start_events import registrations, start_names
from redtask.broker.start_timers import processes_with_timer_starts
from redtask.broker.store_base import Clock, wall_clock_ms

__all__ = ["Definitions", "DeploymentHasInstances", "digest"]


class DeploymentHasInstances(InvalidArgument):
    """Camunda's ProcessEngineException (ENGINE-03076, its wording) for a deployment deleted
    without cascade while one of its definitions has running instances."""

    def __init__(self, definition_id: str, count: int) -> None:
        super().__init__(
            "ENGINE-03076 Deletion of process definition without cascading failed. Process "
            f"definition with id: {definition_id} can't be deleted, since there exists {count} "
            "dependening process instances."
        )
        self.definition_id = definition_id
        self.count = count


class InstanceCanceller(Protocol):
    async def cancel_instance(self, instance_id: str, model: ProcessModel | None = None) -> Any: ...


class Definitions:
    """Deployments and process definitions of one namespace (a store's is
    ``Store.definitions``). ``instances`` deletes the running instances of a deployment
    deleted with cascade; ``reads`` (built from ``db`` when not given) answers the reads and
    loads models."""

    def __init__(
        self,
        db: RedisLayer,
        keys: Keys,
        clock: Clock = wall_clock_ms,
        instances: InstanceCanceller | None = None,
        reads: DefinitionReads | None = None,
    ) -> None:
        self.db = db
        self.keys = keys
        self.clock = clock
        self.instances = instances
        self.reads = reads or DefinitionReads(db, keys)
        # run after every deployment and deletion (the store's: re-arm the timer start events)
        self.on_change: Callable[[], Awaitable[None]] | None = None
        # run before a deployment is written (the store's: message start names stay unique)
        self.check: Callable[[str | None, list[ProcessModel]], Awaitable[None]] | None = None

    # ------------------------------------------------------------------ reads
    async def deployment(self, deployment_id: str) -> Deployment:
        """Raises DeploymentNotFound."""
        return await self.reads.deployment(deployment_id)

    async def deployments(self) -> list[Deployment]:
        """Every deployment (unordered)."""
        return await self.reads.deployments()

    async def definition(self, definition_id: str) -> ProcessDefinition:
        """Raises DefinitionNotFound."""
        return await self.reads.definition(definition_id)

    async def definitions(self) -> list[ProcessDefinition]:
        """Every process definition (unordered)."""
        return await self.reads.definitions()

    async def names(self, definition_ids: Iterable[str]) -> dict[str, str | None]:
        """Id -> name (None: the process has no name) of those of these definitions that exist."""
        return await self.reads.names(definition_ids)

    async def latest_by_key(
        self, key: str, tenant_id: str | None = None
    ) -> ProcessDefinition | None:
        """The highest version of ``key`` deployed for ``tenant_id`` (None: without tenant)."""
        return await self.reads.latest_by_key(key, tenant_id)

    async def resource(self, deployment_id: str, name: str) -> bytes | None:
        """A resource's raw bytes, None if there is no such deployment or resource."""
        return await self.reads.resource(deployment_id, name)

    async def xml(self, definition_id: str) -> bytes:
        """The BPMN resource a definition was deployed from. Raises DefinitionNotFound."""
        return await self.reads.xml(definition_id)

    async def get_model(self, definition_id: str) -> ProcessModel:
        """The executable model of a definition (cached). Raises DefinitionNotFound."""
        return await self.reads.get_model(definition_id)

    async def query_definitions(
        self,
        query: DefinitionQuery,
        sorting: Sequence[tuple[str, str]] = (),
        first_result: int | None = None,
        max_results: int | None = None,
        *,
        now_ms: int | None = None,
    ) -> list[ProcessDefinition]:
        """The definitions ``query`` matches (at ``now_ms``, default now), sorted and paged."""
        now = self.clock() if now_ms is None else now_ms
        found = query.select(await self.reads.definitions(), now)
        return sort_and_page(found, DEFINITION_SORT_FIELDS, sorting, first_result, max_results)

    async def count_definitions(self, query: DefinitionQuery) -> int:
        return len(query.select(await self.reads.definitions(), self.clock()))

    async def query_deployments(
        self,
        query: DeploymentQuery,
        sorting: Sequence[tuple[str, str]] = (),
        first_result: int | None = None,
        max_results: int | None = None,
    ) -> list[Deployment]:
        """The deployments ``query`` matches, sorted and paged."""
        found = query.select(await self.reads.deployments())
        return sort_and_page(found, DEPLOYMENT_SORT_FIELDS, sorting, first_result, max_results)

    async def count_deployments(self, query: DeploymentQuery) -> int:
        return len(query.select(await self.reads.deployments()))

    # ------------------------------------------------------------------ deploy
    async def deploy(self, request: DeploymentRequest) -> DeploymentResult:
        """Store a deployment and a new version of each executable process in it.

        Raises InvalidArgument without resources or for two processes with one key, and
        DeploymentParseError for invalid or hostile BPMN; nothing is stored then.
        """
        resources = {r.name: r.content for r in request.resources}  # a later name replaces
        if not resources:
            raise InvalidArgument("No deployment resources contained to deploy.")
        parsed = await asyncio.to_thread(parse_resources, resources)
        tenant = request.tenant_id or None
        filtering = (request.duplicate_filtering or request.changed_only) and (
            request.name is not None  # Camunda compares by name: a nameless one never matches
        )
        keys = self.keys
        models = [m for p in parsed.values() for m in p.models]
        watched = [keys.definition_versions(tenant, m.key) for m in models]
        # a concurrent deployment starting on the same message name changes its set
        names = {n for m in models for n in start_names(m, "message")}
        watched += [keys.message_start_processes(n) for n in sorted(names)]
        if filtering:
            watched.append(keys.deployments_named(tenant, request.name or ""))

        async def body(tx: Transaction) -> DeploymentResult:
            return await self._deploy_watched(tx, request, resources, parsed, filtering)

        # no processes, no filtering: nothing is read, so nothing is watched
        result = await self.db.transaction(watched, body)
        if result.definitions and self.on_change is not None:
            await self.on_change()
        return result

    async def _deploy_watched(
        self,
        tx: Transaction,
        request: DeploymentRequest,
        resources: dict[str, bytes],
        parsed: dict[str, ParsedResource],
        filtering: bool,
    ) -> DeploymentResult:
        """Read under WATCH, then queue the writes (none when nothing is new)."""
        tenant = request.tenant_id or None
        name = request.name
        if filtering:
            assert name is not None
            named = self.keys.deployments_named(tenant, name)
            existing = await self.reads.deployments_by(  # newest first
                tx.read, await tx.read("ZREVRANGE", named, 0, -1)
            )
            changed = changed_resources(existing, request.source, resources)
            if not changed:
                [latest] = await tx.read("ZREVRANGE", named, 0, 0)
                return DeploymentResult(await self.reads.deployment_by(tx.read, latest), None)
            if request.changed_only:
                resources = {n: c for n, c in resources.items() if n in changed}
        deployed = [m for r in resources if r in parsed for m in parsed[r].models]
        if self.check is not None:
            await self.check(tenant, deployed)
        now = self.clock()
        deployment_id = str(uuid.uuid4())
        definitions: list[ProcessDefinition] = []
        for resource_name in resources:
            for model in parsed[resource_name].models if resource_name in parsed else ():
                versions = self.keys.definition_versions(tenant, model.key)
                top = await tx.read("ZREVRANGE", versions, 0, 0, "WITHSCORES")
                version = int(top[0][1]) + 1 if top else 1
                definitions.append(
                    ProcessDefinition(
                        id=definition_id(model.key, version, str(uuid.uuid4())),
                        key=model.key,
                        version=version,
                        resource=resource_name,
                        deployment_id=deployment_id,
                        deploy_time=now,
                        name=model.name,
                        category=parsed[resource_name].target_namespace,
                        tenant_id=tenant,
                        version_tag=model.version_tag,
                        history_time_to_live=model.history_time_to_live,
                        activation_time=request.activation_time,
                        description=model.description,
                    )
                )
        deployment = Deployment(
            id=deployment_id,
            name=name,
            source=request.source,
            tenant_id=tenant,
            deployment_time=now,
            resources={n: digest(c) for n, c in resources.items()},
            definition_ids=tuple(d.id for d in definitions),
        )
        timed = processes_with_timer_starts((tenant, m) for m in deployed)
        self._queue_writes(tx, deployment, resources, definitions, timed)
        for command in registrations(self.keys, tenant, deployed):
            tx.write(*command)
        return DeploymentResult(deployment, tuple(definitions))

    def _queue_writes(
        self,
        tx: Transaction,
        deployment: Deployment,
        resources: dict[str, bytes],
        definitions: Sequence[ProcessDefinition],
        timed: Sequence[str] = (),
    ) -> None:
        keys = self.keys
        if timed:  # processes with a timer start event (broker.start_timers)
            tx.write("SADD", keys.timer_start_processes, *timed)
        tx.write("SET", keys.deployment(deployment.id), orjson.dumps(deployment.to_json()))
        if resources:
            pairs = [x for item in resources.items() for x in item]
            tx.write("HSET", keys.deployment_resources(deployment.id), *pairs)
        tx.write("SADD", keys.deployments, deployment.id)
        if deployment.name is not None:
            named = keys.deployments_named(deployment.tenant_id, deployment.name)
            tx.write("ZADD", named, deployment.deployment_time, deployment.id)
        for d in definitions:
            tx.write("SET", keys.definition(d.id), orjson.dumps(d.to_json()))
            tx.write("SADD", keys.definitions, d.id)
            tx.write("ZADD", keys.definition_versions(d.tenant_id, d.key), d.version, d.id)

    # ------------------------------------------------------------------ delete
    async def delete_deployment(self, deployment_id: str, *, cascade: bool = False) -> None:
        """Delete a deployment, its resources and its process definitions.

        Without ``cascade`` this is refused while a definition has running instances (ended
        ones do not count and keep their history). With it, the running instances are deleted
        first, each as ``cancel_instance`` deletes one: external tasks and incidents go, the
        ended instance is kept for history.

        Raises DeploymentNotFound; DeploymentHasInstances (nothing is deleted then);
        BrokerError when instances must be deleted but no ``instances`` was given.
        """
        try:
            deployment = await self.deployment(deployment_id)
        except DeploymentNotFound:
            raise DeploymentNotFound(deployment_id, deleting=True) from None
        definitions = await self.reads.definitions_by(self.db.execute, deployment.definition_ids)
        # the models are held through the delete: instances that race with it are deleted
        # with them after their definitions are gone
        models = {d.id: await self.get_model(d.id) for d in definitions}
        if cascade:
            # one walk while the deployment still exists, so a failure here can be retried
            await self._delete_instances(models, until_none=False)
        else:
            counts: Counter[str] = Counter()
            async for batch in running_instances_of(self.db, self.keys, models):
                counts.update(definition_id for _, definition_id in batch)
            busy = next((d.id for d in definitions if counts[d.id]), None)
            if busy is not None:
                raise DeploymentHasInstances(busy, counts[busy])
        await self._delete_records(deployment_id)
        if self.on_change is not None:  # its timers stop, the previous version's come back
            await self.on_change()
        # A start that read its definition before the records went may commit its instance
        # after the walk above; nothing at commit checks the definition, so such an instance
        # would be orphaned (its model is gone: no task of it could complete). Walk again now
        # that new starts fail, until a walk finds none, and delete those too: the start lost
        # the race, as with Camunda's serialized transactions it would have failed.
        await self._delete_instances(models, until_none=True)

    async def _delete_instances(self, models: Mapping[str, ProcessModel], until_none: bool) -> None:
        """Delete the running instances of these definitions, a batch at a time."""
        while True:
            found = False
            async for batch in running_instances_of(self.db, self.keys, models):
                if self.instances is None:
                    raise BrokerError("deleting process instances needs the store")
                found = True
                results = await asyncio.gather(
                    *(self.instances.cancel_instance(i, models[d]) for i, d in batch),
                    return_exceptions=True,
                )
                for result in results:  # an instance that ended meanwhile needs nothing
                    if isinstance(result, BaseException) and not isinstance(
                        result, InstanceNotFound
                    ):
                        raise result
            if not (found and until_none):
                return

    async def _delete_records(self, deployment_id: str) -> None:
        """Delete the deployment's keys in one transaction. Raises DeploymentNotFound."""
        keys = self.keys

        async def body(tx: Transaction) -> list[ProcessDefinition]:
            deployment = await self.reads.deployment_by(tx.read, deployment_id, deleting=True)
            definitions = await self.reads.definitions_by(tx.read, deployment.definition_ids)
            resources = keys.deployment_resources(deployment_id)
            tx.write("DEL", keys.deployment(deployment_id), resources)
            tx.write("SREM", keys.deployments, deployment_id)
            if deployment.name is not None:
                named = keys.deployments_named(deployment.tenant_id, deployment.name)
                tx.write("ZREM", named, deployment_id)
            for d in definitions:
                tx.write("DEL", keys.definition(d.id))
                tx.write("SREM", keys.definitions, d.id)
                tx.write("ZREM", keys.definition_versions(d.tenant_id, d.key), d.id)
            return definitions

        definitions = await self.db.transaction([keys.deployment(deployment_id)], body)
        forget_models(keys.namespace, (d.id for d in definitions))
