"""Prometheus metrics of the gateway, in a registry the app owns (several apps in one process,
as in the tests, keep their own exact counts).

Requests are labelled by route template (``/external-task/{id}/complete``), never by raw path,
so the number of series stays bounded whatever clients send. The broker's state is read from
the indexes at scrape time and cached for a second, so frequent scrapes and several Prometheus
servers cost Redis at most one read per second per gateway.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from redtask.broker.metrics import BrokerState, BrokerStateReads
from redtask.broker.store import Store

UNMATCHED = "<unmatched>"
STATE_TTL_S = 1.0
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class BrokerStateCollector(Collector):
    """Serves the last snapshot; ``refresh`` reads a new one when it is older than a second."""

    def __init__(self, store: Store, ttl_s: float = STATE_TTL_S) -> None:
        self.reads = BrokerStateReads(store.db, store.keys, lambda: store.clock())
        self.ttl_s = ttl_s
        self.state: BrokerState | None = None
        self.read_at = float("-inf")
        self.read_seconds = 0.0
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        if time.monotonic() - self.read_at < self.ttl_s:
            return
        async with self._lock:  # concurrent scrapes share one read
            if time.monotonic() - self.read_at < self.ttl_s:
                return
            started = time.perf_counter()
            self.state = await self.reads.read()
            self.read_seconds = time.perf_counter() - started
            self.read_at = time.monotonic()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = self.state
        if state is None:
            return
        tasks = GaugeMetricFamily(
            "redtask_topic_tasks",
            "Tasks per topic and state (available, locked, retrying, incident)",
            labels=["topic", "state"],
        )
        age = GaugeMetricFamily(
            "redtask_topic_oldest_available_task_age_seconds",
            "Age of the oldest fetchable task of the topic (0 when none waits)",
            labels=["topic"],
        )
        for topic in state.topics:
            for name, value in (
                ("available", topic.available),
                ("locked", topic.locked),
                ("retrying", topic.retrying),
                ("incident", topic.incidents),
            ):
                tasks.add_metric([topic.topic_name, name], value)
            age.add_metric([topic.topic_name], state.oldest_available_age_s(topic))
        yield tasks
        yield age
        yield GaugeMetricFamily(
            "redtask_process_instances_running",
            "Process instances running",
            value=state.running_instances,
        )
        yield GaugeMetricFamily(
            "redtask_incidents_open", "Open incidents", value=state.open_incidents
        )
        yield GaugeMetricFamily(
            "redtask_broker_state_read_seconds",
            "Time the last read of the broker state took",
            value=self.read_seconds,
        )


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "redtask_http_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "redtask_http_request_duration_seconds",
            "Time to answer an HTTP request (a long poll counts its wait)",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.parked = Gauge(
            "redtask_long_polls_parked", "fetchAndLock long polls waiting", registry=registry
        )
        self.wake_latency = Histogram(
            "redtask_long_poll_wake_latency_seconds",
            "From a parked poll's wake-up to its answer with tasks",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.redis_errors = Counter(
            "redtask_redis_errors",
            "Requests answered 503 because Redis was unreachable",
            registry=registry,
        )
        self.broker: BrokerStateCollector | None = None

    def report_on(self, store: Store | None) -> None:
        """Report the state of ``store``'s broker (None: stop, at shutdown)."""
        if self.broker is not None:
            self.registry.unregister(self.broker)
            self.broker = None
        if store is not None:
            self.broker = BrokerStateCollector(store)
            self.registry.register(self.broker)

    async def exposition(self) -> bytes:
        if self.broker is not None:
            await self.broker.refresh()
        return generate_latest(self.registry)


def route_template(scope: Scope) -> str:
    """The matched route's full path template, prefixes included (FastAPI >= 0.16x keeps an
    included router's routes unprefixed and records the effective one beside them)."""
    effective = scope.get("fastapi", {}).get("effective_route_context")
    path = getattr(effective, "path", None) or getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED


class MetricsMiddleware:
    """Counts every answer by route template, method and status, and times it."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = route_template(scope)
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.duration.labels(route, method).observe(time.perf_counter() - started)


_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})
