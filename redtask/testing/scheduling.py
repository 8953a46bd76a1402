"""The scheduler's pass in a test: running it until it finds nothing to do, and finding the
next time something falls due (a lease, a retry, a timer, a history retention), so that
:meth:`TestBroker.advance <redtask.testing.TestBroker.advance>` stops at each on the way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redtask.broker.scheduler import Scheduler
from redtask.broker.store import Store

# a pass that keeps finding due work this many times in a row is a loop, not a backlog
MAX_SWEEP_PASSES = 1_000
# most due times one advance() stops at
MAX_ADVANCE_STOPS = 100_000


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What scheduler passes did: tasks made fetchable again (expired locks, due retries),
    timers fired, and ended instances forgotten (history retention)."""

    moved: int = 0
    fired: int = 0
    forgotten: int = 0

    def __add__(self, other: SweepResult) -> SweepResult:
        return SweepResult(
            self.moved + other.moved, self.fired + other.fired, self.forgotten + other.forgotten
        )


async def sweep_until_idle(scheduler: Scheduler) -> SweepResult:
    """Run ``scheduler.run_once`` until a pass finds nothing to do; what the passes did."""
    counts = scheduler.counts
    start = (counts.tasks_swept, counts.timers_fired, counts.instances_forgotten)
    for _ in range(MAX_SWEEP_PASSES):
        before = (counts.tasks_swept, counts.timers_fired, counts.instances_forgotten)
        more = await scheduler.run_once()
        after = (counts.tasks_swept, counts.timers_fired, counts.instances_forgotten)
        if not more and after == before:
            return SweepResult(after[0] - start[0], after[1] - start[1], after[2] - start[2])
    raise RuntimeError(
        f"the scheduler still found due work after {MAX_SWEEP_PASSES} passes at one time "
        "(a timer that schedules itself at once?)"
    )


async def next_due(store: Store, now: int, until: int) -> int | None:
    """The earliest time after now and at or before ``until`` when a lease, a retry, a
    timer (a timer start event's too) or a history retention falls due, or None."""
    keys = store.keys
    retention = store.settings.history_ttl_s * 1000
    commands: list[tuple[Any, ...]] = []
    for p in range(keys.partitions):
        for key in (keys.sweep(p), keys.timers(p), keys.start_timers(p)):
            commands.append(("ZRANGEBYSCORE", key, f"({now}", until, "LIMIT", 0, 1, "WITHSCORES"))
        commands.append(
            (
                "ZRANGEBYSCORE",
                keys.history(p),
                f"({now - retention}",
                until - retention,
                "LIMIT",
                0,
                1,
                "WITHSCORES",
            )
        )
    replies = await store.db.execute_many(commands)
    found = []
    for i, reply in enumerate(replies):
        score = _first_score(reply)
        if score is not None:
            found.append(score + (retention if i % 4 == 3 else 0))
    return min(found) if found else None


def _first_score(reply: Any) -> int | None:
    """The score of a ZRANGEBYSCORE ... WITHSCORES LIMIT 0 1 reply: a flat [member, score]
    (RESP2) or [[member, score]] (RESP3), or None when empty."""
    if not reply:
        return None
    first = reply[0]
    score = first[1] if isinstance(first, list | tuple) else reply[1]
    return int(float(score))
