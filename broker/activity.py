"""Recent activity, for the operator dashboard: completions per topic and minute, the workers
that fetched lately, and the locked tasks by worker.

The scripts keep two bounded records (see ``completions_count`` and ``workers_note`` in
``scripts/_lib.lua``): a hash per partition and minute, ``cpm:<minute>`` (topic -> tasks
completed) that expires 16 minutes after the last topic entered it, and a sorted set per
partition, ``ws`` (worker id -> last fetch ms), trimmed to the last 15 minutes and 1000 ids
whenever a new id enters (reads skip the entries older than 15 minutes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from redtask.broker.keys import Keys
from redtask.broker.redis_layer import RedisLayer
from redtask.broker.store_base import Clock

MINUTE_MS = 60_000
COMPLETIONS_KEPT_MINUTES = 15
"""Minutes of completion counts a read may ask for (the hashes live 16 minutes)."""
WORKERS_WINDOW_MS = 15 * MINUTE_MS
WORKERS_MAX = 1000
WORKER_ID_MAX = 200
"""The registry's bounds, as ``workers_note`` in ``scripts/_lib.lua`` applies them."""


@dataclass(frozen=True, slots=True)
class LockedTask:
    id: str
    topic_name: str
    worker_id: str
    lock_expiration_time: int


@dataclass(frozen=True, slots=True)
class WorkerActivity:
    """A worker id: when it last fetched (None: not within the window, it holds locks only),
    the number of tasks it holds locked and the first of them."""

    worker_id: str
    last_seen_ms: int | None
    locked: int
    tasks: tuple[LockedTask, ...]


class WorkReads:
    def __init__(self, db: RedisLayer, keys: Keys, clock: Clock) -> None:
        self.db = db
        self.keys = keys
        self.clock = clock

    async def completions(self, minutes: int = 5) -> dict[str, list[int]]:
        """Tasks completed per topic in each of the last ``minutes`` minutes, the current
        (partial) minute first; at most ``COMPLETIONS_KEPT_MINUTES``."""
        minutes = max(1, min(minutes, COMPLETIONS_KEPT_MINUTES))
        current = self.clock() // MINUTE_MS
        rows = await self.db.execute_many(
            ("HGETALL", self.keys.completions(p, current - back))
            for p in range(self.keys.partitions)
            for back in range(minutes)
        )
        out: dict[str, list[int]] = {}
        for n, row in enumerate(rows):
            back = n % minutes
            for topic, count in cast(dict[str, str], row).items():
                out.setdefault(topic, [0] * minutes)[back] += int(count)
        return dict(sorted(out.items()))

    async def workers_seen(self) -> dict[str, int]:
        """Worker id -> when it last fetched (ms), for fetches within the last 15 minutes."""
        since = self.clock() - WORKERS_WINDOW_MS
        rows = await self.db.execute_many(
            ("ZRANGEBYSCORE", self.keys.workers(p), since, "+inf", "WITHSCORES")
            for p in range(self.keys.partitions)
        )
        seen: dict[str, int] = {}
        for row in rows:
            for worker, score in _pairs(row):
                seen[worker] = max(seen.get(worker, 0), int(float(score)))
        return seen

    async def locked_tasks(self, limit: int = 10_000) -> tuple[list[LockedTask], bool]:
        """Tasks in the locked indexes with their holder, the earliest lock expiries first, at
        most ``limit``; True when more are locked (the rest is not read).

        Reads at most ``limit + 1`` index entries per topic and keeps ``limit`` per partition,
        so the holders of only ``limit`` tasks are read, whatever the number of locks."""
        entries: list[tuple[int, str, str]] = []
        more = False
        for partition in range(self.keys.partitions):
            topics = sorted(
                cast(set[str], await self.db.execute("SMEMBERS", self.keys.topics(partition)))
            )
            if not topics:
                continue
            ranges = await self.db.execute_many(
                ("ZRANGE", self.keys.locked(partition, t), 0, limit, "WITHSCORES") for t in topics
            )
            found = [
                (int(float(score)), task_id, topic)
                for topic, row in zip(topics, ranges, strict=True)
                for task_id, score in _pairs(row)
            ]
            found.sort()
            more = more or len(found) > limit
            entries = sorted(entries + found[:limit])[: limit + 1]
        more = more or len(entries) > limit
        entries = entries[:limit]
        holders = await self.db.execute_many(
            ("HGET", self.keys.task(task_id), "w") for _, task_id, _ in entries
        )
        return [
            LockedTask(task_id, topic, worker, expiry)
            for (expiry, task_id, topic), worker in zip(entries, holders, strict=True)
            if worker is not None
        ], more

    async def workers(self, tasks_shown: int = 20) -> tuple[list[WorkerActivity], bool]:
        """Every worker seen lately or holding a lock, by id, with up to ``tasks_shown`` of its
        locked tasks; True when there were too many locked tasks to read them all."""
        seen = await self.workers_seen()
        locked, more = await self.locked_tasks()
        by_worker: dict[str, list[LockedTask]] = {}
        for task in locked:
            by_worker.setdefault(task.worker_id, []).append(task)
        ids = sorted(set(seen) | set(by_worker))
        return [
            WorkerActivity(
                w,
                seen.get(w),
                len(by_worker.get(w, ())),
                tuple(by_worker.get(w, ())[:tasks_shown]),
            )
            for w in ids
        ], more


def _pairs(reply: Any) -> Sequence[tuple[str, Any]]:
    """A WITHSCORES reply as (member, score) pairs (RESP2 flat or RESP3 nested)."""
    if not reply:
        return []
    if isinstance(reply[0], (list, tuple)):
        return [(m, s) for m, s in reply]
    return list(zip(reply[::2], reply[1::2], strict=True))
