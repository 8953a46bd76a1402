"""The broker's state for monitoring: per topic, the tasks available, locked, waiting out a retry
and with incidents, the age of the oldest available task; running process instances and open
incidents.

Everything comes from the indexes (cardinalities of the per-topic sets, the first member of each
priority level), never from a scan of task hashes: a read costs two round trips per partition and
a few commands per topic and priority level, whatever the number of tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redtask.broker.keys import Keys
from redtask.broker.redis_layer import RedisLayer
from redtask.broker.store_base import Clock


@dataclass(frozen=True, slots=True)
class TopicState:
    topic_name: str
    available: int
    locked: int
    retrying: int
    incidents: int
    oldest_available_ms: int | None  # createTime of the oldest fetchable task


@dataclass(frozen=True, slots=True)
class BrokerState:
    topics: tuple[TopicState, ...]
    running_instances: int
    open_incidents: int
    read_at_ms: int

    def oldest_available_age_s(self, topic: TopicState) -> float:
        if topic.oldest_available_ms is None:
            return 0.0
        return max(self.read_at_ms - topic.oldest_available_ms, 0) / 1000


def _first_score(reply: Any) -> int | None:
    """The score of ``ZRANGE key 0 0 WITHSCORES``: ``[(member, score)]`` or ``[member, score]``."""
    if not reply:
        return None
    first = reply[0]
    score = first[1] if isinstance(first, (list, tuple)) else reply[1]
    return int(float(score))


class BrokerStateReads:
    def __init__(self, db: RedisLayer, keys: Keys, now: Clock) -> None:
        self.db = db
        self.keys = keys
        self.now = now

    async def read(self) -> BrokerState:
        """One consistent-enough snapshot (each partition read in two pipelines)."""
        totals: dict[str, list[int]] = {}
        oldest: dict[str, int] = {}
        running = incidents = 0
        for partition in range(self.keys.partitions):
            first = await self.db.execute_many(
                [
                    ("SMEMBERS", self.keys.topics(partition)),
                    ("ZCARD", self.keys.instances(partition)),
                    ("ZCARD", self.keys.incidents(partition)),
                ]
            )
            topics = sorted(first[0])
            running += int(first[1])
            incidents += int(first[2])
            commands: list[tuple[Any, ...]] = []
            for topic in topics:
                commands.append(("ZRANGE", self.keys.avail_levels(partition, topic), 0, -1))
                commands.append(("ZCARD", self.keys.locked(partition, topic)))
                commands.append(("ZCARD", self.keys.retry(partition, topic)))
                commands.append(("SCARD", self.keys.incident_tasks(partition, topic)))
            rows = await self.db.execute_many(commands) if commands else []
            levels = [(t, int(level)) for n, t in enumerate(topics) for level in rows[4 * n]]
            per_level: list[tuple[Any, ...]] = []
            for topic, level in levels:
                key = self.keys.avail(partition, topic, level)
                per_level.append(("ZCARD", key))
                per_level.append(("ZRANGE", key, 0, 0, "WITHSCORES"))
            replies = await self.db.execute_many(per_level) if per_level else []
            available: dict[str, int] = {}
            for n, (topic, _) in enumerate(levels):
                available[topic] = available.get(topic, 0) + int(replies[2 * n])
                score = _first_score(replies[2 * n + 1])
                if score is not None and score < oldest.get(topic, score + 1):
                    oldest[topic] = score
            for n, topic in enumerate(topics):
                row = totals.setdefault(topic, [0, 0, 0, 0])
                counts = (available.get(topic, 0), *rows[4 * n + 1 : 4 * n + 4])
                for i, value in enumerate(counts):
                    row[i] += int(value)
        return BrokerState(
            topics=tuple(
                TopicState(t, v[0], v[1], v[2], v[3], oldest.get(t))
                for t, v in sorted(totals.items())
                if any(v)
            ),
            running_instances=running,
            open_incidents=incidents,
            read_at_ms=self.now(),
        )
