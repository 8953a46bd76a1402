"""errorDetails are capped at REDTASK_MAX_ERROR_DETAILS_BYTES, truncated with a marker."""

from __future__ import annotations

from redtask.broker.failures import capped_details
from redtask.broker.model import NewTask, TopicRequest
from redtask.broker.store import Store


async def fail_with(store: Store, details: str) -> str:
    task_id = await store.publish(NewTask("t"))
    [task] = await store.fetch_and_lock("w1", 1, [TopicRequest("t", 1000)])
    await store.handle_failure(task.id, "w1", "boom", details, 3, 0)
    assert task.id == task_id
    return task_id


async def test_error_details_beyond_64_kib_are_stored_truncated_with_a_marker(store):
    details = "x" * (7 * 1024 * 1024)
    task_id = await fail_with(store, details)

    stored = await store.error_details(task_id)

    marker = "\n[... truncated by redtask: 7340032 bytes in all]"
    assert stored == "x" * (65536 - len(marker)) + marker
    assert len(stored.encode()) == 65536
    assert (await store.get(task_id)).error_details == stored


async def test_error_details_up_to_the_cap_are_stored_whole(store):
    details = "é" * 32768  # 65,536 bytes
    task_id = await fail_with(store, details)

    assert await store.error_details(task_id) == details


async def test_the_cap_is_a_setting(store, clock):
    small = Store(
        store.redis, store.settings.model_copy(update={"max_error_details_bytes": 1024}), clock
    )
    task_id = await fail_with(small, "y" * 5000)

    stored = await small.error_details(task_id)

    assert stored.endswith("\n[... truncated by redtask: 5000 bytes in all]")
    assert len(stored.encode()) == 1024


def test_truncation_never_splits_a_character():
    capped = capped_details("é" * 40_000, 1025)

    assert capped is not None
    body, marker = capped.split("\n")
    assert set(body) == {"é"}
    assert marker == "[... truncated by redtask: 80000 bytes in all]"
    assert len(capped.encode()) <= 1025


def test_absent_details_stay_absent():
    assert capped_details(None, 1024) is None
