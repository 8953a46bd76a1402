"""The clock of a test broker: epoch milliseconds that move only when the test says so."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def to_ms(moment: datetime | int | None) -> int:
    """Epoch milliseconds of ``moment`` (a datetime, naive taken as UTC, or epoch ms); None:
    the wall clock now."""
    if moment is None:
        return time.time_ns() // 1_000_000
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    return int(moment)


class TestClock:
    """Epoch milliseconds that stand still until :meth:`advance` moves them. The store, the
    scripts (they are passed the caller's clock; none reads Redis TIME), the process engine's
    timers and the history retention all read it."""

    __test__ = False  # not a pytest test class

    def __init__(self, start: datetime | int | None = None) -> None:
        self.now_ms = to_ms(start)

    def __call__(self) -> int:
        return self.now_ms

    @property
    def now(self) -> datetime:
        """The current time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now_ms / 1000, UTC)

    def advance(self, ms: int) -> None:
        """Move forward ``ms`` milliseconds (never back: leases and timers only move forward)."""
        if ms < 0:
            raise ValueError(f"the test clock only moves forward (asked to move {ms} ms)")
        self.now_ms += ms
