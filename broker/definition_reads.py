"""Reads of deployments and process definitions, and the executable models of definitions.

Definitions are immutable, so ``get_model`` parses a definition's XML once per process and
keeps the model in a bounded in-process cache (shared by every reader of a namespace). The
process runtime loads its models here; ``broker.definitions`` adds deploying and deleting.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

import orjson

from redtask.broker.bpmn import ProcessModel, parse_bpmn
from redtask.broker.definition_model import (
    DefinitionNotFound,
    Deployment,
    DeploymentNotFound,
    ProcessDefinition,
)
from redtask.broker.keys import Keys
from redtask.broker.redis_layer import RedisLayer

MODEL_CACHE_SIZE = 1024
_models: OrderedDict[tuple[str, str], ProcessModel] = OrderedDict()
# runs one command: the Redis layer's ``execute``, or a transaction's ``read`` under WATCH
Reader = Callable[..., Awaitable[Any]]


def forget_models(namespace: str, definition_ids: Iterable[str]) -> None:
    """Drop deleted definitions from the model cache."""
    for definition_id in definition_ids:
        _models.pop((namespace, definition_id), None)


class DefinitionReads:
    def __init__(self, db: RedisLayer, keys: Keys) -> None:
        self.db = db
        self.keys = keys

    async def deployment(self, deployment_id: str) -> Deployment:
        """Raises DeploymentNotFound."""
        return await self.deployment_by(self.db.execute, deployment_id)

    async def deployments(self) -> list[Deployment]:
        """Every deployment (unordered)."""
        ids = await self.db.execute("SMEMBERS", self.keys.deployments)
        return await self.deployments_by(self.db.execute, cast(set[str], ids))

    async def definition(self, definition_id: str) -> ProcessDefinition:
        """Raises DefinitionNotFound."""
        raw = await self.db.execute("GET", self.keys.definition(definition_id))
        if raw is None:
            raise DefinitionNotFound(definition_id)
        return ProcessDefinition.from_json(orjson.loads(raw))

    async def definitions(self) -> list[ProcessDefinition]:
        """Every process definition (unordered)."""
        ids = await self.db.execute("SMEMBERS", self.keys.definitions)
        return await self.definitions_by(self.db.execute, cast(set[str], ids))

    async def names(self, definition_ids: Iterable[str]) -> dict[str, str | None]:
        """Id -> name (None: the process has no name) of those of these definitions that exist."""
        return {d.id: d.name for d in await self.definitions_by(self.db.execute, definition_ids)}

    async def latest_by_key(
        self, key: str, tenant_id: str | None = None
    ) -> ProcessDefinition | None:
        """The highest version of ``key`` deployed for ``tenant_id`` (None: without tenant)."""
        versions = self.keys.definition_versions(tenant_id, key)
        top = await self.db.execute("ZREVRANGE", versions, 0, 0)
        if not top:
            return None
        try:
            return await self.definition(str(top[0]))
        except DefinitionNotFound:  # deleted between the two reads
            return None

    async def resource(self, deployment_id: str, name: str) -> bytes | None:
        """A resource's raw bytes, None if there is no such deployment or resource."""
        key = self.keys.deployment_resources(deployment_id)
        content: bytes | None = await self.db.execute_bytes("HGET", key, name)
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

    async def deployment_by(
        self, read: Reader, deployment_id: str, *, deleting: bool = False
    ) -> Deployment:
        raw = await read("GET", self.keys.deployment(deployment_id))
        if raw is None:
            raise DeploymentNotFound(deployment_id, deleting=deleting)
        return Deployment.from_json(orjson.loads(raw))

    async def deployments_by(self, read: Reader, ids: Iterable[str]) -> list[Deployment]:
        wanted = list(ids)
        keys = [self.keys.deployment(i) for i in wanted]
        raws = await read("MGET", *keys) if wanted else []
        return [Deployment.from_json(orjson.loads(r)) for r in raws if r is not None]

    async def definitions_by(self, read: Reader, ids: Iterable[str]) -> list[ProcessDefinition]:
        wanted = list(ids)
        keys = [self.keys.definition(i) for i in wanted]
        raws = await read("MGET", *keys) if wanted else []
        return [ProcessDefinition.from_json(orjson.loads(r)) for r in raws if r is not None]
