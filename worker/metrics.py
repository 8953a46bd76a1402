"""A worker's Prometheus metrics, in a registry of its own: several workers in one process (and
tests) each count exactly their own tasks. ``redtask worker --metrics-port`` serves them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# handlers run from milliseconds to many minutes
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class WorkerMetrics:
    """Counters by topic; ``in_flight`` reads the worker's count of running tasks at scrape."""

    def __init__(self, in_flight: Callable[[], int] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.fetched = Counter(
            "redtask_worker_tasks_fetched", "Tasks fetched and locked", ["topic"], registry=r
        )
        self.completed = Counter(
            "redtask_worker_tasks_completed", "Tasks reported complete", ["topic"], registry=r
        )
        self.failed = Counter(
            "redtask_worker_tasks_failed",
            "Failures reported (retry or incident)",
            ["topic"],
            registry=r,
        )
        self.bpmn_errors = Counter(
            "redtask_worker_bpmn_errors", "BPMN errors reported", ["topic"], registry=r
        )
        self.lock_extensions = Counter(
            "redtask_worker_lock_extensions",
            "Locks extended for long handlers",
            ["topic"],
            registry=r,
        )
        self.handler_duration = Histogram(
            "redtask_worker_handler_duration_seconds",
            "Time a handler ran, by topic",
            ["topic"],
            buckets=BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "redtask_worker_tasks_in_flight", "Tasks fetched and not yet reported", registry=r
        )
        if in_flight is not None:
            self.in_flight.set_function(in_flight)
        self._children: dict[tuple[int, str], Any] = {}

    def of(self, metric: Any, topic: str) -> Any:
        """``metric.labels(topic)``, looked up once per metric and topic (a per-task cost)."""
        key = (id(metric), topic)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(topic)
        return child

    def exposition(self) -> bytes:
        """The text format of ``GET /metrics``."""
        return generate_latest(self.registry)
