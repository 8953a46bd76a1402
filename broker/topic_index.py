"""Task counts and candidate tasks read from the per-topic indexes the scripts keep, so that the
cost of a count or of a query naming a topic or task ids grows with the topics (and with the
tasks of the named topic), never with the total number of tasks.

Every task sits in exactly one index of its topic: ``a:<topic>:<prio>`` (fetchable),
``l:<topic>`` (locked, score = lockExpirationTime), ``r:<topic>`` (waiting for a retry, score =
lockExpirationTime, the retry's due time) or ``x:<topic>`` (retries 0, with an incident). So:

- a task has retries left unless it is in ``x:``;
- it is locked (lockExpirationTime > now) when it is in ``l:`` or ``r:`` with a score above
  now, or in ``x:`` with such a lockExpirationTime (read per incident task: incidents are few);
  a fetchable task never is (a task leaves ``x:`` for ``a:`` only when its lock has passed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

from redtask.broker.keys import Keys
from redtask.broker.query import TaskQuery
from redtask.broker.redis_layer import RedisLayer

# the filters a count answers from the indexes alone (``suspended``: no task is ever suspended)
COUNTED = ("topic_name", "locked", "with_retries_left", "no_retries_left", "active")
_UNFILTERED = TaskQuery()


def countable(query: TaskQuery) -> bool:
    """Whether ``count`` can answer ``query`` from the indexes without reading a task."""
    cleared = replace(query, **{name: getattr(_UNFILTERED, name) for name in COUNTED})
    return cleared == _UNFILTERED


def narrows_to_candidates(query: TaskQuery) -> bool:
    """Whether ``query`` names a topic or task ids, so only those tasks need reading."""
    return query.topic_name is not None or bool(
        query.external_task_id is not None or query.external_task_id_in is not None
    )


class TopicIndex:
    def __init__(self, db: RedisLayer, keys: Keys) -> None:
        self.db = db
        self.keys = keys

    async def _topics(self, partition: int, topic: str | None) -> list[str]:
        if topic is not None:
            return [topic]
        return sorted(
            cast(set[str], await self.db.execute("SMEMBERS", self.keys.topics(partition)))
        )

    async def count(self, query: TaskQuery, now: int) -> int:
        """The number of tasks ``query`` matches (``countable(query)`` must hold)."""
        total = 0
        left_ok = not query.no_retries_left  # tasks with retries left can match
        spent_ok = not query.with_retries_left  # tasks without (in x:) can match
        after_now = f"({now}"
        for partition in range(self.keys.partitions):
            topics = await self._topics(partition, query.topic_name)
            if not topics:
                continue
            head: list[Sequence[Any]] = []
            for topic in topics:
                if query.locked:
                    head.append(("ZCOUNT", self.keys.locked(partition, topic), after_now, "+inf"))
                    head.append(("ZCOUNT", self.keys.retry(partition, topic), after_now, "+inf"))
                else:
                    head.append(("ZCARD", self.keys.locked(partition, topic)))
                    head.append(("ZCARD", self.keys.retry(partition, topic)))
                head.append(("ZRANGE", self.keys.avail_levels(partition, topic), 0, -1))
                head.append(
                    ("SMEMBERS", self.keys.incident_tasks(partition, topic))
                    if query.locked
                    else ("SCARD", self.keys.incident_tasks(partition, topic))
                )
            rows = await self.db.execute_many(head)
            tail: list[Sequence[Any]] = []
            for n, topic in enumerate(topics):
                locked, retrying, levels, spent = rows[4 * n : 4 * n + 4]
                if left_ok:
                    total += int(locked) + int(retrying)
                    if not query.locked:
                        tail += [
                            ("ZCARD", self.keys.avail(partition, topic, int(level)))
                            for level in levels
                        ]
                if spent_ok:
                    if query.locked:
                        tail += [("HGET", self.keys.task(task_id), "le") for task_id in spent]
                    else:
                        total += int(spent)
            for reply in await self.db.execute_many(tail) if tail else []:
                if query.locked:  # an incident task's lockExpirationTime
                    total += int(reply is not None and int(reply) > now)
                else:  # a priority level's size
                    total += int(reply)
        return total

    async def candidate_ids(self, query: TaskQuery) -> list[str]:
        """Ids of every task that may match ``query`` (``narrows_to_candidates(query)`` must
        hold): the given ids, else every task of the named topic."""
        if query.external_task_id is not None or query.external_task_id_in is not None:
            ids = [query.external_task_id] if query.external_task_id is not None else []
            ids += list(query.external_task_id_in or ())
            return list(dict.fromkeys(ids))
        topic = cast(str, query.topic_name)
        out: list[str] = []
        for partition in range(self.keys.partitions):
            levels, locked, retrying, spent = await self.db.execute_many(
                [
                    ("ZRANGE", self.keys.avail_levels(partition, topic), 0, -1),
                    ("ZRANGE", self.keys.locked(partition, topic), 0, -1),
                    ("ZRANGE", self.keys.retry(partition, topic), 0, -1),
                    ("SMEMBERS", self.keys.incident_tasks(partition, topic)),
                ]
            )
            avail = await self.db.execute_many(
                ("ZRANGE", self.keys.avail(partition, topic, int(level)), 0, -1) for level in levels
            )
            for group in (*avail, locked, retrying, sorted(spent)):
                out += group
        return list(dict.fromkeys(out))


__all__ = ["COUNTED", "TopicIndex", "countable", "narrows_to_candidates"]
