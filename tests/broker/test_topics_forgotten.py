"""The `topics` set of a partition holds the topics that hold a task: the script that deletes a
topic's last task (complete, BPMN error, a cancelled process task, a process task completed)
also forgets the topic, atomically; a topic with a task in any state stays."""

from __future__ import annotations

from redtask.broker.bpmn import parse_bpmn
from redtask.broker.model import NewTask, TopicRequest
from redtask.broker.store import Store
from tests.gateway.helpers import one_task_process


async def topics_set(store: Store) -> set[str]:
    names: set[str] = set()
    for partition in range(store.keys.partitions):
        names |= set(await store.redis.smembers(store.keys.topics(partition)))
    return names


async def test_two_thousand_one_shot_topics_leave_no_entry_behind(store: Store) -> None:
    topics = [f"once-{n}" for n in range(2_000)]
    await store.publish_many([NewTask(topic=t) for t in topics])
    assert await topics_set(store) == set(topics)

    locked = await store.fetch_and_lock("w", 2_000, [TopicRequest(t, 10_000) for t in topics])
    for task in locked[:1_000]:
        await store.complete(task.id, "w")
    for task in locked[1_000:]:
        await store.handle_bpmn_error(task.id, "w", "E")

    assert len(locked) == 2_000
    assert await topics_set(store) == set()
    assert await store.topic_names() == []


async def test_a_topic_stays_while_any_of_its_tasks_is_fetchable_locked_retrying_or_failed(
    store: Store,
) -> None:
    ids = await store.publish_many([NewTask(topic="t") for _ in range(5)])
    await store.lock(ids[1], "w", 10_000)
    await store.lock(ids[2], "w", 10_000)
    await store.handle_failure(ids[2], "w", "later", None, 2, 60_000)
    await store.lock(ids[3], "w", 10_000)
    await store.handle_failure(ids[3], "w", "gave up", None, 0, 0)
    await store.lock(ids[4], "w", 10_000)
    await store.complete(ids[4], "w")  # one of five gone: the others keep the topic

    for task_id in ids[:4]:
        assert await topics_set(store) == {"t"}
        await store.lock(task_id, "w", 10_000)
        await store.complete(task_id, "w")

    assert await topics_set(store) == set()


async def test_a_topic_whose_last_task_is_a_cancelled_or_completed_process_task_is_forgotten(
    store: Store,
) -> None:
    [model] = parse_bpmn(one_task_process("proc", "pt", 0), "proc.bpmn")

    async def lookup(definition_id: str) -> object:
        return model

    store.models = lookup  # type: ignore[assignment]
    first, _ = await store.start_instance(model, "proc:1:test")
    await store.start_instance(model, "proc:1:test")
    assert await topics_set(store) == {"pt"}

    await store.cancel_instance(first.instance_id)
    assert await topics_set(store) == {"pt"}
    [task] = await store.fetch_and_lock("w", 5, [TopicRequest("pt", 10_000)])
    await store.complete(task.id, "w")

    assert await topics_set(store) == set()


async def test_a_topic_published_again_after_it_was_forgotten_is_listed_again(
    store: Store,
) -> None:
    [task_id] = await store.publish_many([NewTask(topic="t")])
    await store.lock(task_id, "w", 10_000)
    await store.complete(task_id, "w")
    assert await topics_set(store) == set()

    await store.publish_many([NewTask(topic="t")])

    assert await topics_set(store) == {"t"}
