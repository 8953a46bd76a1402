"""The direct-Redis transport builds a standalone task straight from its hash: the same task the
broker's fetched view gives, and complete-and-fetch-next hands out what it locked ahead."""

from __future__ import annotations

import asyncio
import dataclasses

from redtask.broker.model import NewTask, TopicRequest
from redtask.broker.store import Store
from redtask.worker.transport.base import Subscription
from redtask.worker.transport.redis import RedisTransport, task_from_model

VARIABLES = {
    "a": {"type": "String", "value": "x", "valueInfo": {}},
    "b": {"type": "Integer", "value": 7, "valueInfo": {}},
}


async def test_a_task_built_from_its_hash_equals_the_broker_view(store: Store, topic: str) -> None:
    [task_id] = await store.publish_many(
        [NewTask(topic, VARIABLES, priority=3, retries=2, business_key="bk", tenant_id="tn")]
    )
    transport = RedisTransport(store=store)
    try:
        for selection in (None, ("b",), ()):
            sub = Subscription(topic, 60_000, variables=selection)
            [direct] = await transport.fetch_and_lock("w1", 1, [sub], use_priority=True, wait_ms=0)
            await store.unlock(task_id)
            request = TopicRequest(topic, 60_000, variables=selection)
            [viewed] = await store.fetch_and_lock("w1", 1, [request], use_priority=True)
            await store.unlock(task_id)
            expected = task_from_model(viewed)
            assert direct.lock_token is not None and direct.lock_expiration_time is not None
            assert (
                dataclasses.replace(
                    direct,
                    lock_token=expected.lock_token,
                    lock_expiration_time=expected.lock_expiration_time,
                )
                == expected
            )
            wanted = VARIABLES if selection is None else {k: VARIABLES[k] for k in selection}
            assert dict(direct.typed_variables) == wanted
            assert (direct.id, direct.worker_id, direct.retries, direct.priority) == (
                task_id,
                "w1",
                2,
                3,
            )
            assert (direct.business_key, direct.tenant_id) == ("bk", "tn")
    finally:
        await transport.aclose()


async def test_completions_fetch_the_next_tasks_and_aclose_unlocks_those_not_handed_out(
    store: Store, topic: str
) -> None:
    ids = await store.publish_many([NewTask(topic) for _ in range(5)])
    transport = RedisTransport(store=store)
    sub = Subscription(topic, 60_000)
    try:
        first = await transport.fetch_and_lock("w1", 2, [sub], use_priority=True, wait_ms=0)
        assert len(first) == 2
        await asyncio.gather(*(transport.complete(t, {}, {}) for t in first))
        # the two completions locked two more tasks on their way
        while transport._lane._ahead_fetch is not None:
            await asyncio.sleep(0.01)
        stats = {s.topic_name: s for s in await store.topic_stats()}[topic]
        assert (stats.available, stats.locked) == (1, 2)
        [third] = await transport.fetch_and_lock("w1", 1, [sub], use_priority=True, wait_ms=0)
        assert third.id in ids and third.id not in {t.id for t in first}
    finally:
        await transport.aclose()
    stats = {s.topic_name: s for s in await store.topic_stats()}[topic]
    assert (stats.available, stats.locked) == (2, 1)  # the one held ahead was unlocked
