"""The store: the broker's public API over Redis, a thin facade over components that each own
one concern and receive what they need in their constructor:

- ``db`` (``broker.redis_layer``): the client, the scripts, the few Redis primitives;
- ``tasks`` (``broker.task_commands``): publish, fetch-and-lock, locks, retries, priority, sweep;
- ``outcomes`` and ``failures`` (``broker.task_outcomes``, ``broker.failures``): complete,
  BPMN error and failure, which hand a process task to the runtime as a returned value;
- ``task_reads`` (``broker.task_reads``): a task, queries, topic stats, incidents, the log;
- ``activity`` (``broker.activity``): completions per minute, recent workers, locks by worker;
- ``repository`` (``broker.instance_repository``): instance states and ``advance`` commits;
- ``executor`` (``broker.executor``): the one retry-on-conflict loop of instance commands;
- ``runtime``, ``messages``, ``signals`` and ``signal_delivery`` (``broker.instances``,
  ``broker.instance_messages``, ``broker.instance_signals``, ``broker.signal_delivery``):
  start, steps on task outcomes,
  timers, variables, cancellation, message correlation, signalled executions;
- ``instance_reads``, ``history``, ``history_records`` and ``activity_reads``
  (``broker.instance_reads``, ``broker.history``, ``broker.history_records``,
  ``broker.activity_reads``), ``variable_history``, ``activity_tree`` and
  ``incident_history`` (``broker.variable_history``, ``broker.activity_tree``,
  ``broker.incident_history``);
- ``definitions`` (``broker.definitions``): deployments, definitions, models;
- ``starter`` (``broker.process_start``): a start guarded against a racing deployment delete;
- ``start_timers`` (``broker.start_timers``): the schedule of timer start events;
- ``start_events`` (``broker.start_events``): the definitions a message or signal starts.

Every method of ``Store`` is one line that hands the call to its component (``delegate``;
the three hot paths are written out, so no call packs its arguments).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from redtask.broker.activity import WorkReads
from redtask.broker.activity_reads import ActivityReads
from redtask.broker.activity_tree import ActivityTree
from redtask.broker.call_cascade import CalledDefinitions
from redtask.broker.connection import connect
from redtask.broker.definition_reads import DefinitionReads
from redtask.broker.definitions import Definitions
from redtask.broker.errors import InvalidArgument
from redtask.broker.executor import Executor, ModelSource
from redtask.broker.failures import Failures
from redtask.broker.history import History
from redtask.broker.history_records import HistoricRecords
from redtask.broker.incident_history import IncidentHistory
from redtask.broker.instance_messages import Messages
from redtask.broker.instance_reads import InstanceReads
from redtask.broker.instance_repository import InstanceRepository
from redtask.broker.instance_signals import Signals
from redtask.broker.instances import ProcessRuntime
from redtask.broker.keys import Keys
from redtask.broker.model import ExternalTask, NewTask, TopicRequest
from redtask.broker.process_start import ProcessStarter
from redtask.broker.redis_layer import Client, RedisLayer
from redtask.broker.settings import Settings
from redtask.broker.signal_delivery import SignalDelivery
from redtask.broker.start_events import StartEvents
from redtask.broker.start_timers import StartTimers
from redtask.broker.store_base import Clock, SharedClock, new_task_id, wall_clock_ms
from redtask.broker.task_commands import SortOrder, TaskCommands
from redtask.broker.task_outcomes import Completion, TaskOutcomes
from redtask.broker.task_reads import TaskReads
from redtask.broker.variable_history import VariableHistory

__all__ = ["Clock", "Completion", "Store", "open_store", "wall_clock_ms"]

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C")
T = TypeVar("T")


def delegate(
    component: str, method: Callable[Concatenate[C, P], R]
) -> Callable[Concatenate[Any, P], R]:
    """A method of ``Store`` that runs ``method`` on the component in attribute ``component``
    (same signature and docstring)."""
    get = operator.attrgetter(component)

    def call(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return method(get(self), *args, **kwargs)

    functools.update_wrapper(call, method)
    return call


class Store:
    """Async access to the broker's Redis data. Create with ``Store(client, settings)`` or
    ``open_store(settings)``.

    ``redis`` is the client, for tests and operators' scripts; the store's own code reaches
    Redis only through ``db``. ``clock`` may be replaced (every component sees the change).
    ``models`` is the model loader of the process runtime: the store's own definitions unless
    replaced; it is the gateway's hook (and tests serve models that were never deployed).
    """

    def __init__(
        self,
        client: Client,
        settings: Settings,
        clock: Clock = wall_clock_ms,
        keys: Keys | None = None,
    ) -> None:
        self.redis = client
        self.settings = settings
        # open_store passes the keys with the namespace's recorded hash-tag scheme; without
        # them the store assumes a namespace created by this version (spread tags)
        self.keys = keys = keys or Keys(settings.namespace, settings.partitions)
        self._clock = now = SharedClock(clock)
        self.db = db = RedisLayer(client, settings.wait_replicas, settings.wait_replicas_timeout_ms)
        self.repository = repo = InstanceRepository(db, keys, settings, now)
        definition_reads = DefinitionReads(db, keys)
        called = CalledDefinitions(definition_reads)
        self.executor = Executor(repo, definition_reads.get_model, called)
        self.runtime = ProcessRuntime(repo, self.executor, now)
        self.messages = Messages(repo, self.executor, now)
        self.signals = Signals(repo, self.executor, now)
        self.signal_delivery = SignalDelivery(repo, self.executor, now)
        repo.signal_sink = self.signal_delivery.deliver_new
        self.definitions = Definitions(db, keys, now, self.runtime, definition_reads)
        self.starter = ProcessStarter(definition_reads, self.runtime)
        self.start_timers = StartTimers(db, keys, now, definition_reads, self.starter)
        self.definitions.on_change = self.start_timers.reconcile
        self.start_events = StartEvents(db, keys, now, definition_reads, self.starter)
        self.definitions.check = self.start_events.check_deployable
        self.messages.starts = self.start_events
        self.signal_delivery.starts = self.start_events
        self.task_reads = TaskReads(db, keys, now, repo, definition_reads.names)
        self.activity = WorkReads(db, keys, now)
        self.tasks = TaskCommands(db, keys, settings, now, repo)
        self.outcomes = TaskOutcomes(db, keys, settings, now, self.task_reads, self.runtime)
        self.failures = Failures(db, keys, settings, now, self.task_reads, self.executor)
        self.instance_reads = InstanceReads(db, keys, repo)
        self.history = History(db, keys, settings, now, repo, self.instance_reads)
        self.history_records = HistoricRecords(self.history, definition_reads)
        self.activity_reads = ActivityReads(db, keys, self.history, definition_reads)
        self.variable_history = VariableHistory(db, keys, self.history, repo)
        self.activity_tree = ActivityTree(repo, self.instance_reads, self.executor)
        self.incident_history = IncidentHistory(db, keys, self.history, self.instance_reads)

    @property
    def clock(self) -> Clock:
        return self._clock.now

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self._clock.now = clock

    @property
    def models(self) -> ModelSource | None:
        return self.executor.models

    @models.setter
    def models(self, models: ModelSource | None) -> None:
        self.executor.models = models

    # the hot paths (bench/core.py, bench/worker.py) hand over without packing arguments
    def publish_many(self, tasks: Sequence[NewTask]) -> Coroutine[Any, Any, list[str]]:
        return self.tasks.publish_many(tasks)

    def fetch_and_lock(
        self,
        worker_id: str,
        max_tasks: int,
        topics: Sequence[TopicRequest],
        *,
        use_priority: bool = False,
        sort_create_time: SortOrder | None = None,
    ) -> Coroutine[Any, Any, list[ExternalTask]]:
        return self.tasks.fetch_and_lock(
            worker_id,
            max_tasks,
            topics,
            use_priority=use_priority,
            sort_create_time=sort_create_time,
        )

    def fetch_and_lock_as(
        self,
        worker_id: str,
        max_tasks: int,
        topics: Sequence[TopicRequest],
        build: Callable[[str, dict[str, str], TopicRequest], T],
        convert: Callable[[ExternalTask], T],
        *,
        use_priority: bool = False,
    ) -> Coroutine[Any, Any, list[T]]:
        return self.tasks.fetch_and_lock_as(
            worker_id, max_tasks, topics, build, convert, use_priority=use_priority
        )

    def complete_many(
        self, items: Sequence[Completion], *, strict: bool = False
    ) -> Coroutine[Any, Any, list[Exception | None]]:
        return self.outcomes.complete_many(items, strict=strict)

    publish_many.__doc__ = TaskCommands.publish_many.__doc__
    fetch_and_lock.__doc__ = TaskCommands.fetch_and_lock.__doc__
    complete_many.__doc__ = TaskOutcomes.complete_many.__doc__

    # tasks
    publish = delegate("tasks", TaskCommands.publish)
    lock = delegate("tasks", TaskCommands.lock)
    extend_lock = delegate("tasks", TaskCommands.extend_lock)
    unlock = delegate("tasks", TaskCommands.unlock)
    set_retries = delegate("tasks", TaskCommands.set_retries)
    set_retries_many = delegate("tasks", TaskCommands.set_retries_many)
    set_priority = delegate("tasks", TaskCommands.set_priority)
    sweep = delegate("tasks", TaskCommands.sweep)
    complete = delegate("outcomes", TaskOutcomes.complete)
    handle_bpmn_error = delegate("outcomes", TaskOutcomes.handle_bpmn_error)
    handle_failure = delegate("failures", Failures.handle_failure)
    # task reads
    get = delegate("task_reads", TaskReads.get)
    error_details = delegate("task_reads", TaskReads.error_details)
    query = delegate("task_reads", TaskReads.query)
    count = delegate("task_reads", TaskReads.count)
    topic_stats = delegate("task_reads", TaskReads.topic_stats)
    topic_names = delegate("task_reads", TaskReads.topic_names)
    incidents = delegate("task_reads", TaskReads.incidents)
    finished = delegate("task_reads", TaskReads.finished)
    select_task_ids = delegate("task_reads", TaskReads.select_ids)
    completions = delegate("activity", WorkReads.completions)
    workers = delegate("activity", WorkReads.workers)
    # process instances
    instance_state = delegate("repository", InstanceRepository.read)
    start_instance = delegate("runtime", ProcessRuntime.start_instance)
    start_process_instance = delegate("starter", ProcessStarter.start)
    complete_process_task = delegate("runtime", ProcessRuntime.complete_task)
    bpmn_error_process_task = delegate("runtime", ProcessRuntime.bpmn_error)
    cancel_instance = delegate("runtime", ProcessRuntime.cancel_instance)
    modify_variables = delegate("runtime", ProcessRuntime.modify_variables)
    fire_due_timers = delegate("runtime", ProcessRuntime.fire_due_timers)
    fire_start_timers = delegate("start_timers", StartTimers.fire_due)
    set_job_retries = delegate("runtime", ProcessRuntime.set_job_retries)
    correlate_message = delegate("messages", Messages.correlate_message)
    signal_execution = delegate("signals", Signals.signal_execution)
    throw_signal = delegate("signal_delivery", SignalDelivery.throw)
    deliver_signals = delegate("signal_delivery", SignalDelivery.deliver_pending)
    get_instance = delegate("instance_reads", InstanceReads.get_instance)
    query_instances = delegate("instance_reads", InstanceReads.query_instances)
    query_incidents = delegate("instance_reads", InstanceReads.query_incidents)
    get_incident = delegate("instance_reads", InstanceReads.get_incident)
    trim_history = delegate("history", History.trim_history)
    get_historic_instance = delegate("history", History.get_historic_instance)
    query_history = delegate("history", History.query_history)
    query_historic_records = delegate("history_records", HistoricRecords.query)
    get_historic_record = delegate("history_records", HistoricRecords.get)
    query_historic_activities = delegate("activity_reads", ActivityReads.activities)
    get_historic_activity = delegate("activity_reads", ActivityReads.activity)
    query_task_log = delegate("activity_reads", ActivityReads.task_log)
    get_task_log_entry = delegate("activity_reads", ActivityReads.task_log_entry)
    task_log_error_details = delegate("activity_reads", ActivityReads.error_details)
    query_historic_variables = delegate("variable_history", VariableHistory.query)
    get_historic_variable = delegate("variable_history", VariableHistory.get)
    activity_instance_tree = delegate("activity_tree", ActivityTree.tree)
    activity_statistics = delegate("activity_tree", ActivityTree.statistics)
    query_historic_incidents = delegate("incident_history", IncidentHistory.query)

    # connection
    def new_task_id(self) -> str:
        return new_task_id()

    async def heartbeat(self, scheduler_id: str, ttl_ms: int) -> None:
        """Record that a scheduler is alive (the key expires after ``ttl_ms``)."""
        key = self.keys.scheduler_heartbeat(scheduler_id)
        await self.db.execute("SET", key, self.clock(), "PX", ttl_ms)

    async def last_heartbeat(self, scheduler_id: str) -> int | None:
        """When the scheduler last beat (ms), or None if its heartbeat expired."""
        value = await self.db.execute("GET", self.keys.scheduler_heartbeat(scheduler_id))
        return None if value is None else int(value)

    def wake_ups(self) -> AsyncIterator[str]:
        """Topic names as scripts make tasks fetchable, from every process (pub/sub).

        Runs until cancelled; raises a backend error when the connection is lost.
        """
        return self.db.subscribe(self.keys.wake_channel)

    async def ping(self) -> bool:
        return await self.db.ping()

    async def close(self) -> None:
        await self.db.close()


async def open_store(
    settings: Settings, clock: Clock = wall_clock_ms, wait_s: float = 0.0
) -> Store:
    """Connect to ``settings.redis_url`` after checking it is safe to use, retrying an
    unreachable server for ``wait_s`` seconds (a starting process passes
    ``settings.redis_startup_wait_s``).

    Raises ConfigurationError for an evicting server or a different partition count.
    """
    if not settings.redis_url:
        raise InvalidArgument("no Redis URL configured (set REDTASK_REDIS_URL)")
    keys = Keys(settings.namespace, settings.partitions)
    client, keys = await connect(settings.redis_url, keys, settings, wait_s)
    return Store(client, settings, clock, keys)
