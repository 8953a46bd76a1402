"""Constants and small helpers shared by the gateway tests."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from xml.sax.saxutils import quoteattr

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio.cluster import RedisCluster

from redtask.broker.definition_model import DeploymentRequest, ProcessDefinition, Resource
from redtask.broker.definitions import Definitions
from redtask.broker.model import NewTask
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from redtask.gateway.app import create_app

API = "/engine-rest"
ET = f"{API}/external-task"
DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$")
START = "2023-11-14T22:13:20.000+0000"  # tests.conftest.START_MS in the REST date format


def topic(name: str = "t", lock: Any = 10_000, **extra: Any) -> dict[str, Any]:
    return {"topicName": name, "lockDuration": lock, **extra}


def fetch_body(*topics: dict[str, Any], worker: str = "w", max_tasks: Any = 10, **extra: Any):
    return {"workerId": worker, "maxTasks": max_tasks, "topics": list(topics) or [topic()], **extra}


def error(type_: str, message: str | None, code: int | None = None) -> dict[str, Any]:
    return {"type": type_, "message": message, "code": code}


def same_partition_ids(store: Store, count: int, partition: int = 0) -> list[str]:
    """Task ids that all land in one partition (order assertions hold for any partition count)."""
    ids: list[str] = []
    while len(ids) < count:
        candidate = store.new_task_id()
        if store.keys.partition_of(candidate) == partition:
            ids.append(candidate)
    return ids


async def wake_listener_subscribed(store: Store) -> None:
    """Wait until a gateway's wake-up listener has subscribed to the store's channel (in a
    cluster on any node: each node counts its own subscribers)."""
    channel = store.keys.wake_channel
    for _ in range(1000):
        if isinstance(store.redis, RedisCluster):
            subscribers = 0
            for node in store.redis.get_nodes():
                [(_, count)] = await store.redis.pubsub_numsub(channel, target_nodes=node)
                subscribers += count
        else:
            [(_, subscribers)] = await store.redis.pubsub_numsub(channel)
        if subscribers:
            return
        await asyncio.sleep(0.002)
    raise AssertionError("the gateway's wake-up listener never subscribed")


@asynccontextmanager
async def started(app: FastAPI, store: Store) -> AsyncIterator[FastAPI]:
    """Run the app's lifespan, and wait until it is fully started (its listener subscribed).

    Waiting also keeps the fixtures clear of a shutdown hang that a stop *during* the
    subscription causes (test_engine_and_errors.py exposes it).
    """
    async with app.router.lifespan_context(app):
        await wake_listener_subscribed(store)
        yield app


@asynccontextmanager
async def serve(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app built with other settings on the same store (lifespan entered)."""
    app = create_app(settings, store=store)
    async with started(app, store):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


# ------------------------------------------------------------------ where a task comes from

ORIGINS = ("standalone", "process")
# the fields of ExternalTaskDto / LockedExternalTaskDto that a process instance fills in
PROCESS_FIELDS = (
    "processInstanceId",
    "processDefinitionId",
    "processDefinitionKey",
    "processDefinitionVersionTag",
    "activityId",
    "activityInstanceId",
    "executionId",
)
ACTIVITY = "work"
VERSION_TAG = "v1"


def one_task_process(key: str, topic: str, priority: int) -> bytes:
    """start -> external service task on ``topic`` with ``priority`` -> end."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="{key}" isExecutable="true" camunda:versionTag="{VERSION_TAG}">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="{ACTIVITY}" />
    <bpmn:serviceTask id="{ACTIVITY}" camunda:type="external" camunda:topic={quoteattr(topic)}
                      camunda:taskPriority="{priority}" />
    <bpmn:sequenceFlow id="f2" sourceRef="{ACTIVITY}" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>""".encode()


class Publisher:
    """``await publish("t", variables=..., priority=..., ...)`` -> the id of a new task.

    With origin "standalone" the task is published through the store; with "process" it is the
    external task of a freshly started instance of a one-task process (deployed once per topic,
    tenant and priority): ``variables`` become process variables, ``retries`` are set after
    creation (a process task starts with retries null, as in Camunda). ``partition=`` places the
    task in one partition (a process instance that lands elsewhere is deleted and started again);
    an explicit ``id=`` exists only for standalone tasks (see the ``standalone_only`` marker).
    """

    def __init__(self, store: Store, origin: str) -> None:
        self.store = store
        self.origin = origin
        self._deployed: dict[tuple[str, str | None, int], ProcessDefinition] = {}
        self._fields: dict[str, dict[str, Any]] = {}

    async def __call__(
        self,
        topic: str = "t",
        variables: Mapping[str, Any] | None = None,
        *,
        priority: int = 0,
        retries: int | None = None,
        business_key: str | None = None,
        tenant_id: str | None = None,
        id: str | None = None,
        partition: int | None = None,
    ) -> str:
        if self.origin == "standalone":
            if id is None and partition is not None:
                [id] = same_partition_ids(self.store, 1, partition)
            task = NewTask(topic, variables, priority, retries, business_key, tenant_id, id)
            return await self.store.publish(task)
        if id is not None:
            pytest.fail("a process task cannot get an explicit id: mark the test standalone_only")
        task_id = await self._start(topic, variables, priority, business_key, tenant_id, partition)
        if retries is not None:
            await self.store.set_retries(task_id, retries)
        return task_id

    def process_fields(self, task_id: str) -> dict[str, Any]:
        """What the DTOs of ``task_id`` show in PROCESS_FIELDS (all null for a standalone task)."""
        if self.origin == "standalone":
            return dict.fromkeys(PROCESS_FIELDS)
        return dict(self._fields[task_id])

    async def _start(
        self,
        topic: str,
        variables: Mapping[str, Any] | None,
        priority: int,
        business_key: str | None,
        tenant_id: str | None,
        partition: int | None,
    ) -> str:
        definitions = self.store.definitions
        if self.store.models is None:  # the app's start installs the same lookup
            self.store.models = definitions.get_model
        definition = await self._definition(definitions, topic, tenant_id, priority)
        model = await definitions.get_model(definition.id)
        while True:
            state, effects = await self.store.start_instance(
                model,
                definition.id,
                variables,
                business_key,
                definition.tenant_id,
                version_tag=definition.version_tag,
            )
            placed = self.store.keys.partition_of(state.instance_id)
            if partition is None or placed == partition:
                break
            await self.store.cancel_instance(state.instance_id)
        [created] = effects.tasks_created
        self._fields[created.id] = {
            "processInstanceId": state.instance_id,
            "processDefinitionId": definition.id,
            "processDefinitionKey": definition.key,
            "processDefinitionVersionTag": VERSION_TAG,
            "activityId": ACTIVITY,
            "activityInstanceId": created.activity_instance_id,
            "executionId": created.execution_id,
        }
        return created.id

    async def _definition(
        self, definitions: Definitions, topic: str, tenant_id: str | None, priority: int
    ) -> ProcessDefinition:
        wanted = (topic, tenant_id, priority)
        if wanted not in self._deployed:
            key = f"process-{len(self._deployed) + 1}"
            resource = Resource(f"{key}.bpmn", one_task_process(key, topic, priority))
            result = await definitions.deploy(
                DeploymentRequest([resource], name=key, tenant_id=tenant_id)
            )
            assert result.definitions is not None
            [self._deployed[wanted]] = result.definitions
        return self._deployed[wanted]
