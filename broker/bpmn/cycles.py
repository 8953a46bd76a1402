"""Timer cycles (``timeCycle``): ISO-8601 repeating intervals and cron expressions, and when
each occurrence falls due (Camunda's CycleBusinessCalendar, DurationHelper and CronTimer).

- ``R<n>/<duration>`` (``R/<duration>``: forever) falls due ``n`` times, every ``duration``
  after the instant the timer is armed (deployment for a start event, entering the activity
  for a boundary event). ``R<n>/<date>/<duration>`` falls due at ``date`` and then every
  ``duration``, ``n`` times in all. Occurrences missed while no scheduler ran are skipped
  (they count towards ``n``), as Camunda computes the next due date from the current time.
- A cron expression has Camunda's six fields (``CronType.SPRING53``: second, minute, hour,
  day of month, month, day of week; ``?``, ``L``, ``W``, ``#``, ranges, steps and names),
  evaluated in UTC by croniter. The search for the next occurrence is bounded
  (``CRON_SEARCH_YEARS``): an expression that never fires (``0 0 0 30 2 ?``) is refused.

A cycle shorter than ``MIN_CYCLE_MS`` is refused: it would start work faster than a scheduler
pass can follow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import CroniterBadDateError, CroniterError, croniter

from redtask.broker.bpmn.timers import (
    IsoDuration,
    TimerDefinition,
    TimerError,
    due_ms,
    parse_date,
    parse_duration,
)
from redtask.broker.dates import LATEST_MS

MIN_CYCLE_MS = 1_000
CRON_SEARCH_YEARS = 10  # covers "every 29 February" (a gap of up to 8 years)
_MAX_CRON_LENGTH = 120
_MAX_SKIPS = 100_000  # missed occurrences of a calendar period skipped one by one, at most
_CRON = re.compile(r"[0-9A-Za-z*/?,#\- ]+")  # a character class: no backtracking
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _moment(epoch_ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=epoch_ms)


def _ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class RepeatingInterval:
    """``R<times>/[<start>/]<period>``; ``times`` None repeats forever."""

    times: int | None
    start_ms: int | None
    period: IsoDuration

    def first(self, armed_ms: int) -> tuple[int, int] | None:
        """(due ms, index) of the first occurrence after ``armed_ms``; None: it never fires."""
        if self.start_ms is None:
            return self._step(armed_ms, 0, armed_ms)
        if self.start_ms > armed_ms:
            return self.start_ms, 0
        return self._step(self.start_ms, 0, armed_ms)

    def next(self, due_ms: int, index: int, now_ms: int) -> tuple[int, int] | None:
        """The occurrence after the one (``due_ms``, ``index``) that just fell due at
        ``now_ms``, skipping those already past; None when the cycle is exhausted."""
        return self._step(due_ms, index, now_ms)

    def _add(self, moment_ms: int, count: int) -> int:
        moment = _moment(moment_ms)
        for _ in range(count):
            moment = self.period.add_to(moment)
        return _ms(moment)

    def _step(self, due_ms: int, index: int, now_ms: int) -> tuple[int, int] | None:
        due, index = self._add(due_ms, 1), index + 1
        if due <= now_ms:
            fixed = self.period.years == 0 and self.period.months == 0
            if fixed:  # a fixed span: jump over the missed occurrences at once
                skipped = (now_ms - due) // (due - due_ms) + 1
                due, index = due + skipped * (due - due_ms), index + skipped
            for _ in range(_MAX_SKIPS):
                if due > now_ms:
                    break
                due, index = self._add(due, 1), index + 1
        if self.times is not None:
            # from an arm instant without start date the occurrences are 1..n, else 0..n-1
            last = self.times if self.start_ms is None else self.times - 1
            if index > last:
                return None
        return (due, index) if due <= LATEST_MS else None


@dataclass(frozen=True, slots=True)
class CronCycle:
    expression: str

    def first(self, armed_ms: int) -> tuple[int, int] | None:
        return self.next(armed_ms, -1, armed_ms)

    def next(self, due_ms: int, index: int, now_ms: int) -> tuple[int, int] | None:
        after = _moment(max(due_ms, now_ms))
        try:
            moment = croniter(
                self.expression,
                after,
                second_at_beginning=True,
                max_years_between_matches=CRON_SEARCH_YEARS,
            ).get_next(datetime)
        except CroniterBadDateError:
            return None
        due = _ms(moment)
        return (due, index + 1) if due <= LATEST_MS else None


Cycle = RepeatingInterval | CronCycle


@dataclass(frozen=True, slots=True)
class Armed:
    """A timer as scheduled: its due time and, for a cycle, the index of that occurrence and
    the cycle's text (an expression already evaluated) to compute the following ones."""

    due_ms: int
    index: int = 0
    cycle: str | None = None


def arm(definition: TimerDefinition, now_ms: int, variables: Mapping[str, Any]) -> Armed:
    """Schedule a timer entered at ``now_ms``. Raises TimerError (TimerOutOfRange past the
    supported dates) and ExpressionError."""
    text = definition.cycle_text(variables)
    if text is None:
        return Armed(due_ms(definition, now_ms, variables))
    first = parse_cycle(text, now_ms).first(now_ms)
    if first is None:
        raise TimerError(f"Timer cycle '{text}' has no occurrence left")
    return Armed(first[0], first[1], text)


def following(armed: Armed, now_ms: int) -> Armed | None:
    """The occurrence of a cycle after ``armed`` fell due at ``now_ms``; None when the cycle
    is exhausted (or ``armed`` is no cycle)."""
    if armed.cycle is None:
        return None
    step = parse_cycle(armed.cycle, now_ms).next(armed.due_ms, armed.index, now_ms)
    return None if step is None else Armed(step[0], step[1], armed.cycle)


def parse_cycle(text: str, now_ms: int) -> Cycle:
    """Parse a ``timeCycle`` value. ``now_ms`` checks that a cron expression fires at all.

    Raises TimerError for a value that is neither form, a cycle shorter than MIN_CYCLE_MS
    and a cron expression that never fires.
    """
    if text.startswith("R"):
        return _repeating(text)
    return _cron(text, now_ms)


def _repeating(text: str) -> RepeatingInterval:
    parts = text.split("/")
    count = parts[0][1:]
    if len(parts) not in (2, 3) or not (count == "" or count.isdigit()):
        raise TimerError(
            f"Invalid repeating interval '{text}': expected R<n>/<duration> or "
            "R<n>/<start date>/<duration>"
        )
    times = int(count) if count else None
    start = parse_date(parts[1]) if len(parts) == 3 else None
    period = parse_duration(parts[-1])
    reference = start or _EPOCH
    span = _ms(period.add_to(reference)) - _ms(reference)
    if period.negative or span < MIN_CYCLE_MS:
        raise TimerError(
            f"Repeating interval '{text}' is shorter than the shortest cycle supported "
            f"({MIN_CYCLE_MS} ms)"
        )
    return RepeatingInterval(times, None if start is None else _ms(start), period)


def _cron(text: str, now_ms: int) -> CronCycle:
    fields = text.split()
    if len(text) > _MAX_CRON_LENGTH or not _CRON.fullmatch(text) or len(fields) != 6:
        raise TimerError(
            f"Invalid cron expression '{text[:_MAX_CRON_LENGTH]}': expected six fields "
            "(second minute hour day-of-month month day-of-week)"
        )
    cycle = CronCycle(" ".join(fields))
    try:
        first = cycle.first(now_ms)
    except (CroniterError, ValueError, KeyError, IndexError) as exc:
        raise TimerError(f"Invalid cron expression '{text}': {exc}") from None
    if first is None:
        raise TimerError(
            f"Cron expression '{text}' never fires (no occurrence within {CRON_SEARCH_YEARS} years)"
        )
    return cycle


__all__ = [
    "MIN_CYCLE_MS",
    "Armed",
    "CronCycle",
    "Cycle",
    "RepeatingInterval",
    "arm",
    "following",
    "parse_cycle",
]
