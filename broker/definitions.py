"""The store of deployments and process definitions (part of the store layer: talks to Redis).

Every key lives under the one hash tag ``{ns}`` (see ``broker.keys``). A deployment is written
all or nothing by one MULTI/EXEC, guarded by WATCH on what it read: the version sets of its
process keys (so versions stay unique per key and tenant under concurrent deploys) and, with
duplicate filtering, the deployments of the same name. A conflicting writer makes EXEC fail
and the deployment is computed again. (MULTI/EXEC rather than a script: the BPMN must be
parsed in Python anyway, and the reads are few.)

Definitions are immutable, so ``get_model`` parses a definition's XML once per process and
keeps the model in a bounded in-process cache.

Deleting a deployment whose definitions have running instances is refused without ``cascade``
(Camunda's ProcessDefinitionManager#deleteProcessDefinition); with it the instances are deleted
first, each as ``DELETE /process-instance/{id}`` deletes one (DeploymentManager#deleteDeployment).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, cast

import orjson
import redis.asyncio as aioredis
from redis.client import NEVER_DECODE
from redis.exceptions import WatchError

from redtask.broker.bpmn import ProcessModel, parse_bpmn
from redtask.broker.definition_model import (
    DefinitionNotFound,
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
from redtask.broker.errors import BrokerError, InvalidArgument
from redtask.broker.instance_reads import running_instances_of
from redtask.broker.instances import InstanceNotFound, StoreInstances
from redtask.broker.keys import Keys
from redtask.broker.store_base import Clock, StoreBase, wall_clock_ms

MODEL_CACHE_SIZE = 1024
_models: OrderedDict[tuple[str, str], ProcessModel] = OrderedDict()


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
    """Deployments and process definitions of one namespace. ``Definitions.of(store)``;
    ``instances`` deletes the running instances of a deployment deleted with cascade."""

    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        clock: Clock = wall_clock_ms,
        instances: InstanceCanceller | None = None,
    ) -> None:
        self.redis = client
        self.keys = keys
        self.clock = clock
        self.instances = instances

    @classmethod
    def of(cls, store: StoreBase) -> Definitions:
        instances = store if isinstance(store, StoreInstances) else None
        return cls(store.redis, store.keys, store.clock, instances)

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
        watched = [
            keys.definition_versions(tenant, m.key) for p in parsed.values() for m in p.models
        ]
        if filtering:
            watched.append(keys.deployments_named(tenant, request.name or ""))
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    if watched:  # no processes, no filtering: nothing to read
                        await pipe.watch(*watched)
                    result, new = await self._deploy_watched(
                        pipe, request, resources, parsed, filtering
                    )
                    if new:
                        await pipe.execute()
                    return result
                except WatchError:
                    continue

    async def _deploy_watched(
        self,
        pipe: Any,
        request: DeploymentRequest,
        resources: dict[str, bytes],
        parsed: dict[str, ParsedResource],
        filtering: bool,
    ) -> tuple[DeploymentResult, bool]:
        """Read under WATCH, then queue the writes; (result, False) when nothing is new."""
        tenant = request.tenant_id or None
        name = request.name
        if filtering:
            assert name is not None
            named = await pipe.zrevrange(self.keys.deployments_named(tenant, name), 0, -1)
            existing = await self._deployments(pipe, named)  # newest first
            changed = changed_resources(existing, request.source, resources)
            if not changed:
                [latest] = await pipe.zrevrange(self.keys.deployments_named(tenant, name), 0, 0)
                return DeploymentResult(await self._deployment(pipe, latest), None), False
            if request.changed_only:
                resources = {n: c for n, c in resources.items() if n in changed}
        now = self.clock()
        deployment_id = str(uuid.uuid4())
        definitions: list[ProcessDefinition] = []
        for resource_name in resources:
            for model in parsed[resource_name].models if resource_name in parsed else ():
                versions = self.keys.definition_versions(tenant, model.key)
                top = await pipe.zrevrange(versions, 0, 0, withscores=True)
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
        pipe.multi()
        self._queue_writes(pipe, deployment, resources, definitions)
        return DeploymentResult(deployment, tuple(definitions)), True

    def _queue_writes(
        self,
        pipe: Any,
        deployment: Deployment,
        resources: dict[str, bytes],
        definitions: Sequence[ProcessDefinition],
    ) -> None:
        keys = self.keys
        pipe.set(keys.deployment(deployment.id), orjson.dumps(deployment.to_json()))
        pipe.hset(keys.deployment_resources(deployment.id), mapping=resources)
        pipe.sadd(keys.deployments, deployment.id)
        if deployment.name is not None:
            named = keys.deployments_named(deployment.tenant_id, deployment.name)
            pipe.zadd(named, {deployment.id: deployment.deployment_time})
        for d in definitions:
            pipe.set(keys.definition(d.id), orjson.dumps(d.to_json()))
            pipe.sadd(keys.definitions, d.id)
            pipe.zadd(keys.definition_versions(d.tenant_id, d.key), {d.id: d.version})

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
        definitions = await self._definitions(self.redis, deployment.definition_ids)
        # the models are held through the delete: instances that race with it are deleted
        # with them after their definitions are gone
        models = {d.id: await self.get_model(d.id) for d in definitions}
        if cascade:
            # one walk while the deployment still exists, so a failure here can be retried
            await self._delete_instances(models, until_none=False)
        else:
            counts: Counter[str] = Counter()
            async for batch in running_instances_of(self.redis, self.keys, models):
                counts.update(definition_id for _, definition_id in batch)
            busy = next((d.id for d in definitions if counts[d.id]), None)
            if busy is not None:
                raise DeploymentHasInstances(busy, counts[busy])
        await self._delete_records(deployment_id)
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
            async for batch in running_instances_of(self.redis, self.keys, models):
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
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(keys.deployment(deployment_id))
                    deployment = await self._deployment(pipe, deployment_id, deleting=True)
                    definitions = await self._definitions(pipe, deployment.definition_ids)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.delete(
                        keys.deployment(deployment_id), keys.deployment_resources(deployment_id)
                    )
                    pipe.srem(keys.deployments, deployment_id)
                    if deployment.name is not None:
                        pipe.zrem(
                            keys.deployments_named(deployment.tenant_id, deployment.name),
                            deployment_id,
                        )
                    for d in definitions:
                        pipe.delete(keys.definition(d.id))
                        pipe.srem(keys.definitions, d.id)
                        pipe.zrem(keys.definition_versions(d.tenant_id, d.key), d.id)
                    await pipe.execute()
                    break
                except WatchError:
                    continue
        for d in definitions:
            _models.pop((keys.namespace, d.id), None)

    # ------------------------------------------------------------------ reads
    async def deployment(self, deployment_id: str) -> Deployment:
        """Raises DeploymentNotFound."""
        return await self._deployment(self.redis, deployment_id)

    async def deployments(self) -> list[Deployment]:
        """Every deployment (unordered)."""
        ids = await self.redis.smembers(self.keys.deployments)
        return await self._deployments(self.redis, cast(set[str], ids))

    async def definition(self, definition_id: str) -> ProcessDefinition:
        """Raises DefinitionNotFound."""
        raw = await self.redis.get(self.keys.definition(definition_id))
        if raw is None:
            raise DefinitionNotFound(definition_id)
        return ProcessDefinition.from_json(orjson.loads(raw))

    async def definitions(self) -> list[ProcessDefinition]:
        """Every process definition (unordered)."""
        ids = await self.redis.smembers(self.keys.definitions)
        return await self._definitions(self.redis, cast(set[str], ids))

    async def names(self, definition_ids: Iterable[str]) -> dict[str, str | None]:
        """Id -> name (None: the process has no name) of those of these definitions that exist."""
        return {d.id: d.name for d in await self._definitions(self.redis, definition_ids)}

    async def latest_by_key(
        self, key: str, tenant_id: str | None = None
    ) -> ProcessDefinition | None:
        """The highest version of ``key`` deployed for ``tenant_id`` (None: without tenant)."""
        top = await self.redis.zrevrange(self.keys.definition_versions(tenant_id, key), 0, 0)
        if not top:
            return None
        try:
            return await self.definition(str(top[0]))
        except DefinitionNotFound:  # deleted between the two reads
            return None

    async def resource(self, deployment_id: str, name: str) -> bytes | None:
        """A resource's raw bytes, None if there is no such deployment or resource."""
        key = self.keys.deployment_resources(deployment_id)
        # the client decodes replies as text: resources are bytes, so this reply is kept raw
        content: bytes | None = await self.redis.execute_command(  # type: ignore[no-untyped-call]
            "HGET", key, name, **{NEVER_DECODE: True}
        )
        return content

    async def xml(self, definition_id: str) -> bytes:
        """The BPMN resource a definition was deployed from. Raises DefinitionNotFound."""
        definition = await self.definition(definition_id)
        content = await self.resource(definition.deployment_id, definition.resource)
        if content is None:
            raise DefinitionNotFound(definition_id)
        return content

    async def get_model(self, definition_id: str) -> ProcessModel:
        """The executable model of a definition, parsed once per process. Raises
        DefinitionNotFound (a model cached before its deployment was deleted by another
        process is still returned: definitions never change, they only disappear)."""
        cache_key = (self.keys.namespace, definition_id)
        model = _models.get(cache_key)
        if model is None:
            definition = await self.definition(definition_id)
            content = await self.resource(definition.deployment_id, definition.resource)
            if content is None:  # its deployment was deleted between the two reads
                raise DefinitionNotFound(definition_id)
            models = await asyncio.to_thread(parse_bpmn, content, definition.resource)
            model = next(m for m in models if m.key == definition.key)
            _models[cache_key] = model
            while len(_models) > MODEL_CACHE_SIZE:
                _models.popitem(last=False)
        _models.move_to_end(cache_key)
        return model

    async def _deployment(
        self, client: Any, deployment_id: str, *, deleting: bool = False
    ) -> Deployment:
        raw = await client.get(self.keys.deployment(deployment_id))
        if raw is None:
            raise DeploymentNotFound(deployment_id, deleting=deleting)
        return Deployment.from_json(orjson.loads(raw))

    async def _deployments(self, client: Any, ids: Iterable[str]) -> list[Deployment]:
        wanted = list(ids)
        raws = await client.mget([self.keys.deployment(i) for i in wanted]) if wanted else []
        return [Deployment.from_json(orjson.loads(r)) for r in raws if r is not None]

    async def _definitions(self, client: Any, ids: Iterable[str]) -> list[ProcessDefinition]:
        wanted = list(ids)
        raws = await client.mget([self.keys.definition(i) for i in wanted]) if wanted else []
        return [ProcessDefinition.from_json(orjson.loads(r)) for r in raws if r is not None]
