"""Camunda's REST date format: epoch milliseconds rendered through the per-second cache read
exactly as a datetime rendered in full."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from redtask.broker import dates

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ZONES = [UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/St_Johns"), ZoneInfo("Asia/Kolkata")]


def full(ms: int, tz: object) -> str:
    return dates.format_datetime((EPOCH + timedelta(milliseconds=ms)).astimezone(tz))  # type: ignore[arg-type]


@pytest.mark.parametrize("tz", ZONES, ids=str)
def test_format_ms_matches_the_full_rendering(tz: object) -> None:
    rng = random.Random(7)
    # around a DST change (Berlin: 2026-03-29 01:00 UTC) millisecond by millisecond, then anywhere
    change = 1_774_746_000_000
    samples = [*range(change - 1500, change + 1500, 7), -1, 0, 999, 1000, -1000, -1001]
    samples += [rng.randint(-62_135_596_800_000, 253_402_300_799_999) for _ in range(3000)]
    for ms in samples:
        assert dates.format_ms(ms, tz) == full(ms, tz), ms  # type: ignore[arg-type]


def test_format_ms_examples() -> None:
    assert dates.format_ms(None) is None
    assert dates.format_ms(-1) == "1969-12-31T23:59:59.999+0000"
    assert dates.format_ms(1_774_746_000_123, ZoneInfo("Europe/Berlin")) == (
        "2026-03-29T03:00:00.123+0200"
    )
    assert dates.format_ms(1_774_745_999_999, ZoneInfo("Europe/Berlin")) == (
        "2026-03-29T01:59:59.999+0100"
    )
