"""Camunda's REST date format: ``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` (offset ``+HHMM``, no colon)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache

LATEST_MS = 10**14 - 1
"""The latest instant (epoch ms, 5138-11-16T09:46:39.999Z) a stored time may hold: the scripts'
Lua writes a number computed in a script with 14 significant digits, so a later one would be
stored as ``1e+14`` and break every read of it (Python's datetime alone would reach 9999)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_datetime(value: datetime) -> str:
    """Render an aware datetime exactly as Camunda does, e.g. ``2015-10-06T16:34:42.000+0200``."""
    millis = value.microsecond // 1000
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}" + value.strftime("%z")


@lru_cache(maxsize=4096)
def _second(epoch_s: int, tz: tzinfo) -> tuple[str, str]:
    """The text of one second in ``tz`` before and after its milliseconds (an offset changes
    only on a whole second)."""
    value = (_EPOCH + timedelta(seconds=epoch_s)).astimezone(tz)
    return value.strftime("%Y-%m-%dT%H:%M:%S."), value.strftime("%z")


def format_ms(epoch_ms: int | None, tz: tzinfo = UTC) -> str | None:
    """Render epoch milliseconds in ``tz``; None stays None. (Exact: the milliseconds are
    never a float. The text of a second is cached: a response renders the same few seconds
    many times.)"""
    if epoch_ms is None:
        return None
    head, offset = _second(epoch_ms // 1000, tz)
    return f"{head}{epoch_ms % 1000:03d}{offset}"


def parse_datetime(text: str, default_tz: tzinfo = UTC) -> datetime:
    """Parse the REST format leniently (``+0200``, ``+02:00``, ``Z``, no millis).

    A value without an offset is read in ``default_tz``. Raises ValueError for anything else.
    """
    if not isinstance(text, str) or "T" not in text:
        raise ValueError(f"not a date: {text!r}")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed


def to_ms(value: datetime) -> int:
    """Epoch milliseconds of an aware datetime (exact, no float rounding)."""
    return (value - _EPOCH) // timedelta(milliseconds=1)


def normalize(text: str) -> str:
    """Canonical form of a date string, keeping its instant and its offset."""
    parsed = parse_datetime(text)
    offset = parsed.utcoffset() or timedelta(0)
    return format_datetime(parsed.astimezone(timezone(offset)))
