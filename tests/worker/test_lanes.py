"""Poll lanes: a worker on the direct-Redis transport splits its concurrency into lanes, each
fetching ahead and group-committing on its own. The worker still never runs more handlers than
its concurrency, each lane asks for no more than its share, every task runs exactly once, and
closing the transport unlocks what any lane had locked ahead."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

from redtask.broker.model import NewTask
from redtask.broker.store import Store
from redtask.worker.transport.base import Subscription, lanes_of
from redtask.worker.transport.redis import RedisTransport
from redtask.worker.transport.redis_lane import RedisLane
from redtask.worker.transport.rest import RestTransport
from tests.worker.helpers import run_each_once


async def test_a_worker_shares_its_concurrency_out_among_the_lanes(
    store: Store, topic: str
) -> None:
    # both lanes in use throughout (here the CPU watch must not merge them)
    transport = RedisTransport(store=store, lanes=2, adaptive_lanes=False)
    asked: dict[int, list[int]] = collections.defaultdict(list)  # lane -> max_tasks asked
    split = transport.lanes

    def spy_on(lane: Any, n: int) -> None:
        fetch = lane.fetch_and_lock

        async def spy(worker_id: str, max_tasks: int, subscriptions: Any, **kw: Any) -> Any:
            asked[n].append(max_tasks)
            return await fetch(worker_id, max_tasks, subscriptions, **kw)

        lane.fetch_and_lock = spy

    def recording_lanes(concurrency: int) -> list[Any]:
        lanes = split(concurrency)
        for n, lane in enumerate(lanes):
            spy_on(lane, n)
        return lanes

    transport.lanes = recording_lanes  # type: ignore[method-assign]
    peak = await run_each_once(store, topic, transport, 60, 5, 0.01)
    assert peak == 5  # the lanes together run as many handlers as the concurrency, no more
    assert set(asked) == {0, 1}  # two lanes fetched
    assert max(asked[0]) <= 3 and max(asked[1]) <= 2  # 5 shared out as 3 + 2


def test_lanes_are_the_transport_itself_first_and_at_most_one_per_task(store: Store) -> None:
    transport = RedisTransport(store=store, lanes=3)
    [only] = transport.lanes(1)
    assert only is transport
    lanes = transport.lanes(8)
    assert len(lanes) == 3 and lanes[0] is transport
    assert all(isinstance(lane, RedisLane) for lane in lanes[1:])
    single = RedisTransport(store=store, lanes=1)
    assert lanes_of(single, 8) == [single]


def test_the_rest_transport_serves_one_lane() -> None:
    rest = RestTransport("http://127.0.0.1:9/engine-rest")
    assert lanes_of(rest, 8) == [rest]


async def test_closing_the_transport_unlocks_what_every_lane_locked_ahead(
    store: Store, topic: str
) -> None:
    await store.publish_many([NewTask(topic) for _ in range(6)])
    transport = RedisTransport(store=store, lanes=2)
    sub = Subscription(topic, 60_000)
    first_lane, second_lane = transport.lanes(4)
    assert isinstance(second_lane, RedisLane)
    try:
        for lane in (first_lane, second_lane):
            fetched = await lane.fetch_and_lock("w1", 2, [sub], use_priority=True, wait_ms=0)
            assert len(fetched) == 2
        # the second lane's completions lock two more tasks for that lane on their way
        await asyncio.gather(*(second_lane.complete(t, {}, {}) for t in fetched))
        while second_lane._ahead_fetch is not None:
            await asyncio.sleep(0.01)
        stats = {s.topic_name: s for s in await store.topic_stats()}[topic]
        assert (stats.available, stats.locked) == (0, 4)
    finally:
        await transport.aclose()
    stats = {s.topic_name: s for s in await store.topic_stats()}[topic]
    # the first lane's two stay locked (they were handed out), the two held ahead are back
    assert (stats.available, stats.locked) == (2, 2)
