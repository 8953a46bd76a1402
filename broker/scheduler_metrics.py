"""The scheduler's Prometheus metrics (``redtask scheduler --metrics-port``), read from its
counts at scrape time in a registry of its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from redtask.broker.scheduler import Scheduler


class SchedulerCollector(Collector):
    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    def collect(self) -> Iterator[Metric]:
        counts = self.scheduler.counts
        label = [self.scheduler.id]
        for name, help_text, value in (
            ("redtask_scheduler_passes", "Scheduler passes (sweeps) completed", counts.passes),
            (
                "redtask_scheduler_tasks_swept",
                "Expired locks reclaimed and due retries made fetchable again",
                counts.tasks_swept,
            ),
            ("redtask_scheduler_timers_fired", "Process timers fired", counts.timers_fired),
            (
                "redtask_scheduler_instances_forgotten",
                "Ended process instances forgotten past their history retention",
                counts.instances_forgotten,
            ),
            (
                "redtask_scheduler_redis_errors",
                "Passes that failed because Redis was unreachable",
                counts.redis_errors,
            ),
        ):
            counter = CounterMetricFamily(name, help_text, labels=["scheduler"])
            counter.add_metric(label, value)
            yield counter
        for name, help_text, gauge_value in (
            (
                "redtask_scheduler_last_pass_duration_seconds",
                "How long the last pass took",
                counts.last_pass_seconds,
            ),
            (
                "redtask_scheduler_last_pass_timestamp_seconds",
                "When the last pass ended (Unix time; time() minus this is the sweep lag)",
                counts.last_pass_at,
            ),
        ):
            gauge = GaugeMetricFamily(name, help_text, labels=["scheduler"])
            gauge.add_metric(label, gauge_value)
            yield gauge


def scheduler_exposition(scheduler: Scheduler) -> Callable[[], bytes]:
    """A function answering the text exposition of ``scheduler``'s metrics."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(SchedulerCollector(scheduler))
    return lambda: generate_latest(registry)
