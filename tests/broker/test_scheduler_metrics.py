"""The scheduler's metrics: passes, tasks swept back, failures to reach Redis and the last
pass's time, parsed with prometheus-client's parser after a known sequence."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from redtask.broker.model import NewTask, TopicRequest
from redtask.broker.scheduler import Scheduler
from redtask.broker.scheduler_metrics import scheduler_exposition
from redtask.broker.store import Store
from tests.conftest import FakeClock


def samples(text: bytes) -> dict[str, float]:
    found = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            assert sample.labels == {"scheduler": "s1"}
            found[sample.name] = sample.value
    return found


async def test_metrics_count_passes_and_tasks_swept_back(store: Store, clock: FakeClock) -> None:
    scheduler = Scheduler(store, "s1")
    exposition = scheduler_exposition(scheduler)
    before = samples(exposition())
    assert before["redtask_scheduler_passes_total"] == 0
    assert before["redtask_scheduler_last_pass_timestamp_seconds"] == 0

    await store.publish_many([NewTask("jobs") for _ in range(3)])
    locked = await store.fetch_and_lock("w1", 2, [TopicRequest("jobs", 1_000)])
    await store.handle_failure(locked[0].id, "w1", "boom", None, 2, 5_000)
    assert await scheduler.run_once() is False  # nothing due yet
    clock.advance(5_000)  # the other lock expired and the retry is due
    assert await scheduler.run_once() is False

    after = samples(exposition())
    assert after["redtask_scheduler_passes_total"] == 2
    assert after["redtask_scheduler_tasks_swept_total"] == 2
    assert after["redtask_scheduler_timers_fired_total"] == 0
    assert after["redtask_scheduler_instances_forgotten_total"] == 0
    assert after["redtask_scheduler_redis_errors_total"] == 0
    assert after["redtask_scheduler_last_pass_timestamp_seconds"] > 1.7e9
    assert 0 < after["redtask_scheduler_last_pass_duration_seconds"] < 5
