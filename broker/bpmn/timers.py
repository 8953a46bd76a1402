"""Timer event definitions (``timeDuration`` / ``timeDate``) and when they fall due.

Durations are ISO-8601 ``PnYnMnDTnHnMnS`` (fractional seconds allowed, ``PnW`` alone, a leading
``-`` for negative) added to the current instant with calendar arithmetic **in UTC**, field by field
as Java's ``Duration.addTo``: years and months first, with the day clamped to the end of a shorter
month (2024-01-31 + P1M = 2024-02-29), then days, hours, minutes and seconds as fixed spans.
Dates are ISO-8601 date-times; one without an offset is read as UTC (Camunda uses the server's
default zone). Cycles (``timeCycle``: repeating intervals and cron) are in ``bpmn.cycles``; here a
cycle's due time is its first occurrence.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from redtask.broker.bpmn.expressions import Expression, parse_value
from redtask.broker.dates import LATEST_MS, format_ms, to_ms
from redtask.broker.errors import BrokerError

TimerKind = Literal["duration", "date", "cycle"]

_DURATION = re.compile(
    r"(?P<neg>-)?P(?:(?P<Y>\d+)Y)?(?:(?P<M>\d+)M)?(?:(?P<D>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:[.,]\d+)?)S)?)?"
)
_WEEKS = re.compile(r"(?P<neg>-)?P(?P<W>\d+)W")
_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:T\d{2}(?::\d{2}(?::\d{2}(?:[.,]\d+)?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TimerError(BrokerError, ValueError):
    """A timer value is not a valid ISO-8601 duration or date (at parse time or when evaluated)."""


class TimerOutOfRange(TimerError):
    """A timer falls before the epoch or after the latest time redtask stores exactly
    (``dates.LATEST_MS``)."""


@dataclass(frozen=True, slots=True)
class IsoDuration:
    """A parsed ISO-8601 duration; weeks are stored as days."""

    years: int = 0
    months: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: Decimal = Decimal(0)
    negative: bool = False

    def add_to(self, moment: datetime) -> datetime:
        """``moment`` plus (or minus) this duration. Raises TimerError outside years 1..9999."""
        sign = -1 if self.negative else 1
        try:
            month_index = moment.month - 1 + sign * (self.years * 12 + self.months)
            year, month = moment.year + month_index // 12, month_index % 12 + 1
            day = min(moment.day, calendar.monthrange(year, month)[1])
            shifted = moment.replace(year=year, month=month, day=day)
            micros = int(self.seconds * 1_000_000)
            span = timedelta(
                days=self.days, hours=self.hours, minutes=self.minutes, microseconds=micros
            )
            return shifted + sign * span
        except (ValueError, OverflowError) as exc:
            raise TimerOutOfRange(f"Duration leaves the supported date range: {exc}") from None


def parse_duration(text: str) -> IsoDuration:
    """Parse ``PnYnMnDTnHnMnS`` or ``PnW``. Raises TimerError for anything else."""
    weeks = _WEEKS.fullmatch(text)
    if weeks is not None:
        return IsoDuration(days=7 * int(weeks["W"]), negative=bool(weeks["neg"]))
    match = _DURATION.fullmatch(text)
    empty_time = text.endswith("T")
    if match is None or empty_time or not any(match[g] for g in ("Y", "M", "D", "h", "m", "s")):
        raise TimerError(f"Invalid ISO-8601 duration '{text}'")
    return IsoDuration(
        years=int(match["Y"] or 0),
        months=int(match["M"] or 0),
        days=int(match["D"] or 0),
        hours=int(match["h"] or 0),
        minutes=int(match["m"] or 0),
        seconds=Decimal((match["s"] or "0").replace(",", ".")),
        negative=bool(match["neg"]),
    )


def parse_date(text: str) -> datetime:
    """Parse an ISO-8601 date or date-time into an aware datetime (UTC when no offset is given).

    Raises TimerError for anything else.
    """
    if _DATE.fullmatch(text) is None:
        raise TimerError(f"Invalid ISO-8601 date '{text}'")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise TimerError(f"Invalid ISO-8601 date '{text}'") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TimerDefinition:
    """``kind`` is "duration" (timeDuration), "date" (timeDate) or "cycle" (timeCycle);
    ``value`` is the literal text (validated when parsed) or an Expression evaluated when the
    timer starts."""

    kind: TimerKind
    value: str | Expression

    @classmethod
    def parse(cls, kind: TimerKind, text: str) -> TimerDefinition:
        """Build from the element text. Raises TimerError for an invalid literal value and
        ExpressionError for a broken expression."""
        value = parse_value(text.strip())
        if isinstance(value, str):
            if kind == "cycle":
                from redtask.broker.bpmn.cycles import parse_cycle  # cycles builds on this module

                parse_cycle(value, 0)
            else:
                _ = parse_duration(value) if kind == "duration" else parse_date(value)
        return cls(kind, value)

    def cycle_text(self, variables: Mapping[str, Any]) -> str | None:
        """The cycle of a "cycle" timer (its expression evaluated), else None. Raises
        TimerError and ExpressionError."""
        if self.kind != "cycle":
            return None
        value = self.value
        result = value.evaluate(variables) if isinstance(value, Expression) else value
        if not isinstance(result, str):
            raise TimerError(f"Timer cycle must be a string, not {result!r}")
        return result.strip()


def due_ms(definition: TimerDefinition, now_ms: int, variables: Mapping[str, Any]) -> int:
    """Epoch milliseconds at which a timer started at ``now_ms`` fires.

    An expression is evaluated against ``variables``: a duration must yield an ISO string, a date
    an ISO string or a datetime (naive = UTC). Raises TimerError for an invalid value and
    ExpressionError when the evaluation fails.
    """
    due = _due_ms(definition, now_ms, variables)
    if not 0 <= due <= LATEST_MS:
        latest = format_ms(LATEST_MS)
        raise TimerOutOfRange(f"Timer falls outside the supported dates (1970 to {latest})")
    return due


def _due_ms(definition: TimerDefinition, now_ms: int, variables: Mapping[str, Any]) -> int:
    cycle = definition.cycle_text(variables)
    if cycle is not None:
        from redtask.broker.bpmn.cycles import parse_cycle

        first = parse_cycle(cycle, now_ms).first(now_ms)
        if first is None:
            raise TimerError(f"Timer cycle '{cycle}' has no occurrence left")
        return first[0]
    value = definition.value
    result = value.evaluate(variables) if isinstance(value, Expression) else value
    if definition.kind == "date":
        if isinstance(result, datetime):
            return to_ms(result if result.tzinfo is not None else result.replace(tzinfo=UTC))
        if isinstance(result, str):
            return to_ms(parse_date(result.strip()))
        raise TimerError(f"Timer date must be an ISO-8601 string or a date, not {result!r}")
    if not isinstance(result, str):
        raise TimerError(f"Timer duration must be an ISO-8601 string, not {result!r}")
    now = _EPOCH + timedelta(milliseconds=now_ms)
    return to_ms(parse_duration(result.strip()).add_to(now))


__all__ = [
    "IsoDuration",
    "TimerDefinition",
    "TimerError",
    "TimerKind",
    "TimerOutOfRange",
    "due_ms",
    "parse_date",
    "parse_duration",
]
