"""A broker for tests: the real store, Lua scripts, process engine and scheduler pass, on an
in-memory Redis (fakeredis with Lua) or on any client a test hands in, with a clock the test
moves.

    kit = TestBroker.in_memory()
    await kit.deploy("order.bpmn")
    order = await kit.start("order", {"item": "book", "quantity": 2}, business_key="A-1")
    await kit.worker(worker).run_until_idle()
    (await kit.instance(order)).is_ended().ended_at("order_shipped")
    await kit.aclose()

Time moves only through :meth:`TestBroker.advance`, which also runs the scheduler's pass at every
due time on the way (lock expiry, retry back-off, timers, history retention), in order;
:meth:`TestBroker.sweep` runs that pass on demand without moving the clock.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redtask.broker.definition_model import (
    DeploymentRequest,
    ProcessDefinition,
    Resource,
)
from redtask.broker.engine import InstanceState
from redtask.broker.errors import InstanceNotFound, TaskNotFound
from redtask.broker.history import HistoricInstance
from redtask.broker.model import ExternalTask, NewTask
from redtask.broker.query import TaskQuery
from redtask.broker.redis_layer import Client
from redtask.broker.scheduler import Scheduler
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from redtask.testing.assertions import (
    IncidentsAssert,
    InstanceAssert,
    InstanceSnapshot,
    TaskAssert,
    TopicAssert,
    describe_task,
)
from redtask.testing.clock import TestClock
from redtask.testing.journal import Journal
from redtask.testing.memory import TestSettings, fake_client
from redtask.testing.scheduling import MAX_ADVANCE_STOPS, SweepResult, next_due, sweep_until_idle
from redtask.worker.router import Router
from redtask.worker.values import to_typed_map

if TYPE_CHECKING:
    from redtask.testing.runner import TestWorker

__all__ = ["InstanceRef", "ProcessInstance", "SweepResult", "TestBroker", "TestSettings"]

SCHEDULER_ID = "redtask-testing"


@dataclass(frozen=True, slots=True)
class ProcessInstance:
    """A started instance; wherever the kit takes an instance, its id (a str) works too."""

    id: str
    definition_id: str
    definition_key: str
    business_key: str | None

    def __str__(self) -> str:
        return self.id


InstanceRef = ProcessInstance | str


def instance_id(instance: InstanceRef) -> str:
    return instance.id if isinstance(instance, ProcessInstance) else instance


class TestBroker:
    """The broker's store, scheduler and engine on ``client``, driven by a :class:`TestClock`.

    ``TestBroker.in_memory()`` runs on a fresh fakeredis server of its own (nothing is shared
    with another broker). ``settings`` default to redtask's defaults, whatever the environment
    says (:class:`TestSettings`); ``start`` is where the clock starts (a datetime, epoch ms, or
    None: the wall clock at creation, then frozen).
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        client: Client,
        settings: Settings | None = None,
        *,
        start: datetime | int | None = None,
    ) -> None:
        self.clock = TestClock(start)
        self.settings = settings or TestSettings()
        self.store = Store(client, self.settings, self.clock)
        self.scheduler = Scheduler(self.store, scheduler_id=SCHEDULER_ID)
        self.journal = Journal()
        self.store.repository.observers.append(self.journal.record)
        self._workers: list[TestWorker] = []
        self._deployed: dict[str, tuple[ProcessDefinition, ...]] = {}
        self._closed = False

    @classmethod
    def in_memory(
        cls,
        settings: Settings | None = None,
        *,
        start: datetime | int | None = None,
        **overrides: Any,
    ) -> TestBroker:
        """A broker on a new in-memory Redis; ``overrides`` are settings (``partitions=4``,
        ``history_ttl_s=60``) applied to ``settings`` or to the defaults."""
        unknown = sorted(set(overrides) - set(Settings.model_fields))
        if unknown:
            raise TypeError(f"unknown settings {unknown}; see redtask.broker.settings.Settings")
        if overrides:
            base = (settings or TestSettings()).model_dump()
            settings = TestSettings(**{**base, **overrides})
        return cls(fake_client(), settings, start=start)

    async def delete_namespace(self) -> int:
        """Delete every key of this broker's namespace (a test on a shared Redis cleans up);
        returns how many."""
        keys = []
        for pattern in self.store.keys.namespace_patterns():
            keys += [key async for key in self.store.db.scan(pattern, 1000)]
        for i in range(0, len(keys), 1000):
            await self.store.db.execute("DEL", *keys[i : i + 1000])
        return len(keys)

    async def __aenter__(self) -> TestBroker:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the workers made by :meth:`worker` and close the client."""
        if self._closed:
            return
        self._closed = True
        for worker in self._workers:
            await worker.aclose()
        await self.store.close()

    # ------------------------------------------------------------------ time
    @property
    def now(self) -> datetime:
        return self.clock.now

    async def advance(
        self,
        seconds: float | timedelta = 0,
        *,
        minutes: float = 0,
        hours: float = 0,
        days: float = 0,
        sweep: bool = True,
    ) -> SweepResult:
        """Move the clock forward, running the scheduler's pass at every due time on the way.

        With ``sweep`` (the default) the clock stops at each due lock expiry, retry, timer and
        history retention up to the target, in order, and runs :meth:`sweep` there, as a
        scheduler running all along would: a timer that a fired timer schedules is due from
        when the first one fired. ``sweep=False`` only moves the clock (a fetch still reclaims
        the expired locks and due retries of the topics it asks for; timers wait for a sweep).
        """
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        total = seconds + 60 * minutes + 3600 * hours + 86400 * days
        ms = round(total * 1000)
        if ms < 0:
            raise ValueError(f"the test clock only moves forward (asked to move {total} s)")
        target = self.clock.now_ms + ms
        if not sweep:
            self.clock.advance(ms)
            return SweepResult()
        result = await self.sweep()
        for _ in range(MAX_ADVANCE_STOPS):
            due = await next_due(self.store, self.clock.now_ms, target)
            if due is None:
                break
            self.clock.now_ms = due
            result += await self.sweep()
        else:
            raise RuntimeError(f"more than {MAX_ADVANCE_STOPS} due times before the target")
        self.clock.now_ms = target
        return result + await self.sweep()

    async def sweep(self) -> SweepResult:
        """Run the scheduler's pass (``Scheduler.run_once``: expired locks and due retries back
        to fetchable, due timers fired, ended instances past their retention forgotten) until
        a pass finds nothing to do. The clock does not move."""
        return await sweep_until_idle(self.scheduler)

    # ------------------------------------------------------------------ processes
    async def deploy(
        self, *sources: str | os.PathLike[str] | bytes, name: str | None = None
    ) -> tuple[ProcessDefinition, ...]:
        """Deploy BPMN files (paths) or BPMN documents (``bytes``) as one deployment; returns
        the process definitions it created. Raises DeploymentParseError for invalid BPMN."""
        if not sources:
            raise ValueError("deploy needs at least one BPMN file or document")
        resources = await asyncio.to_thread(_resources, sources)
        result = await self.store.definitions.deploy(DeploymentRequest(resources, name=name))
        return result.definitions or ()

    async def deploy_once(self, path: str | os.PathLike[str]) -> tuple[ProcessDefinition, ...]:
        """Deploy a BPMN file unless this broker already deployed it (by resolved path)."""
        resolved = await asyncio.to_thread(lambda: str(Path(path).resolve()))
        if resolved not in self._deployed:
            self._deployed[resolved] = await self.deploy(resolved)
        return self._deployed[resolved]

    async def start(
        self,
        key: str,
        variables: Mapping[str, Any] | None = None,
        *,
        business_key: str | None = None,
        tenant_id: str | None = None,
    ) -> ProcessInstance:
        """Start the latest version of process ``key`` with ``variables`` as Python values
        (types as a worker's results get them; ``redtask.Typed`` picks one). Raises LookupError
        when no such process is deployed, and the engine's errors (nothing stored)."""
        definition = await self.store.definitions.latest_by_key(key, tenant_id)
        if definition is None:
            deployed = sorted({d.key for d in await self.store.definitions.definitions()})
            raise LookupError(f"no process definition with key {key!r}; deployed: {deployed}")
        state = await self.store.start_process_instance(
            definition, to_typed_map(variables), business_key
        )
        return ProcessInstance(state.instance_id, definition.id, definition.key, business_key)

    async def correlate(
        self,
        message_name: str,
        variables: Mapping[str, Any] | None = None,
        *,
        business_key: str | None = None,
        instance: InstanceRef | None = None,
        all_matches: bool = False,
    ) -> int:
        """Deliver a message (``POST /message``); returns how many executions received it.
        Raises MessageNotCorrelated when none (or, without ``all_matches``, several) match."""
        correlations = await self.store.correlate_message(
            message_name,
            business_key,
            to_typed_map(variables),
            all_matches=all_matches,
            process_instance_id=None if instance is None else instance_id(instance),
        )
        return len(correlations)

    async def cancel(self, instance: InstanceRef) -> None:
        """Cancel a running instance (``DELETE /process-instance/{id}``)."""
        await self.store.cancel_instance(instance_id(instance))

    # ------------------------------------------------------------------ tasks
    async def publish(
        self,
        topic: str,
        variables: Mapping[str, Any] | None = None,
        *,
        priority: int = 0,
        retries: int | None = None,
        business_key: str | None = None,
        tenant_id: str | None = None,
    ) -> str:
        """Publish a standalone external task; returns its id."""
        task = NewTask(
            topic, to_typed_map(variables), priority, retries, business_key, tenant_id=tenant_id
        )
        return await self.store.publish(task)

    async def tasks(
        self,
        *,
        topic: str | None = None,
        instance: InstanceRef | None = None,
        activity: str | None = None,
    ) -> list[ExternalTask]:
        """The external tasks that match, whatever their state (oldest first)."""
        query = TaskQuery(
            topic_name=topic,
            process_instance_id=None if instance is None else instance_id(instance),
            activity_id=activity,
        )
        found = await self.store.query(query)
        return sorted(found, key=lambda t: (t.create_time, t.id))

    def worker(
        self,
        handlers: Router,
        *,
        worker_id: str = "redtask-test-worker",
        use_priority: bool = True,
    ) -> TestWorker:
        """Run the handlers of a ``Worker`` or ``Router`` in-process against this broker, one
        task at a time (see :class:`redtask.testing.TestWorker`)."""
        from redtask.testing.runner import TestWorker

        runner = TestWorker(self, handlers, worker_id=worker_id, use_priority=use_priority)
        self._workers.append(runner)
        return runner

    # ------------------------------------------------------------------ assertions
    async def instance(self, instance: InstanceRef) -> InstanceAssert:
        """A snapshot of a process instance to assert on (``is_waiting_at``, ``has_passed``,
        ``ended_at``, ``has_variables``, ``has_incident`` ...)."""
        iid = instance_id(instance)
        state: InstanceState | None
        try:
            state, _ = await self.store.instance_state(iid)
        except InstanceNotFound:
            state = None
        historic = await self.store.get_historic_instance(iid)
        tasks = await self.tasks(instance=iid) if state is not None else []
        incidents = [i for i in await self.store.incidents() if i.process_instance_id == iid]
        return InstanceAssert(
            InstanceSnapshot(
                id=iid,
                state=state,
                historic=historic,
                path=self.journal.path(iid) if self.journal.knows(iid) else None,
                tasks=tasks,
                incidents=incidents,
                now_ms=self.clock.now_ms,
            )
        )

    async def historic_instance(self, instance: InstanceRef) -> HistoricInstance | None:
        """The history record (running or ended and kept), None once forgotten."""
        return await self.store.get_historic_instance(instance_id(instance))

    async def topic(self, name: str) -> TopicAssert:
        """The tasks of a topic to assert on (``has_tasks(2)``,
        ``has_tasks(1, state="incident")``)."""
        return TopicAssert(name, await self.tasks(topic=name), self.clock.now_ms)

    async def task(
        self,
        task_id: str | None = None,
        *,
        topic: str | None = None,
        instance: InstanceRef | None = None,
        activity: str | None = None,
    ) -> TaskAssert:
        """The one task with this id, or the one task matching the filters, to assert on
        (``has_failed(retries_left=1)``, ``has_incident(...)``, ``is_locked()`` ...)."""
        if task_id is not None:
            try:
                found = [await self.store.get(task_id)]
            except TaskNotFound:
                found = []
            what = f"task {task_id}"
        else:
            found = await self.tasks(topic=topic, instance=instance, activity=activity)
            what = "a task" + _filters(topic=topic, instance=instance, activity=activity)
        if len(found) != 1:
            listing = "".join(f"\n  {describe_task(t, self.clock.now_ms)}" for t in found)
            raise AssertionError(
                f"Expecting exactly one task: {what}, but found {len(found)}{listing}"
            )
        incidents = {i.id: i for i in await self.store.incidents()}
        task = found[0]
        incident = incidents.get(task.incident_id) if task.incident_id else None
        return TaskAssert(task, incident, self.clock.now_ms)

    async def incidents(self) -> IncidentsAssert:
        """The open incidents to assert on (``has_incident(message=..., activity=...)``)."""
        return IncidentsAssert(await self.store.incidents())


def _resources(sources: Sequence[str | os.PathLike[str] | bytes]) -> list[Resource]:
    resources = []
    for n, source in enumerate(sources):
        if isinstance(source, bytes):
            resources.append(Resource(f"process-{n + 1}.bpmn", source))
        else:
            path = Path(source)
            resources.append(Resource(path.name, path.read_bytes()))
    return resources


def _filters(**filters: object) -> str:
    named = [f"{k}={v}" for k, v in filters.items() if v is not None]
    return f" with {', '.join(named)}" if named else ""
