"""ISO-8601 timer values: parsing, calendar arithmetic in UTC and expression-valued timers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from redtask.broker.bpmn import (
    Expression,
    ExpressionError,
    IsoDuration,
    TimerDefinition,
    TimerError,
    due_ms,
    parse_date,
    parse_duration,
)

MINUS_2_30 = timezone(-timedelta(hours=2, minutes=30))


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("P1D", IsoDuration(days=1)),
        ("PT1H30M", IsoDuration(hours=1, minutes=30)),
        ("P1Y2M3DT4H5M6.5S", IsoDuration(1, 2, 3, 4, 5, Decimal("6.5"))),
        ("PT1,5S", IsoDuration(seconds=Decimal("1.5"))),
        ("PT0S", IsoDuration()),
        ("P2W", IsoDuration(days=14)),
        ("-PT1M", IsoDuration(minutes=1, negative=True)),
        ("P0010D", IsoDuration(days=10)),
    ],
)
def test_durations(text: str, expected: IsoDuration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "P", "PT", "P1DT", "1D", "P1H", "PT1D", "PT1.5M", "P1W2D", "p1d", "R3/PT5M", " PT1M"],
)
def test_invalid_durations(text: str) -> None:
    with pytest.raises(TimerError) as caught:
        parse_duration(text)
    assert str(caught.value) == f"Invalid ISO-8601 duration '{text}'"


@pytest.mark.parametrize(
    "start, duration, due",
    [
        ("2024-01-31T00:00:00+00:00", "P1M", "2024-02-29T00:00:00+00:00"),
        ("2023-01-31T00:00:00+00:00", "P1M", "2023-02-28T00:00:00+00:00"),
        ("2024-02-29T12:00:00+00:00", "P1Y", "2025-02-28T12:00:00+00:00"),
        ("2024-01-31T00:00:00+00:00", "P1M1D", "2024-03-01T00:00:00+00:00"),
        ("2024-11-30T00:00:00+00:00", "P1Y2M", "2026-01-30T00:00:00+00:00"),
        ("2024-03-31T00:00:00+00:00", "-P1M", "2024-02-29T00:00:00+00:00"),
        ("2024-01-01T00:00:00+00:00", "P1DT2H", "2024-01-02T02:00:00+00:00"),
        ("2024-01-01T00:00:00+00:00", "PT36H", "2024-01-02T12:00:00+00:00"),
        ("2024-01-01T00:00:00+00:00", "P2W", "2024-01-15T00:00:00+00:00"),
        ("2024-01-01T00:00:00+00:00", "-PT1M", "2023-12-31T23:59:00+00:00"),
        ("2024-01-01T00:00:00+00:00", "PT0.5S", "2024-01-01T00:00:00.500+00:00"),
        ("2024-01-01T00:00:00.250+00:00", "PT0.0009S", "2024-01-01T00:00:00.250+00:00"),
    ],
)
def test_durations_add_calendar_fields_in_utc(start: str, duration: str, due: str) -> None:
    definition = TimerDefinition.parse("duration", duration)
    assert due_ms(definition, ms(start), {}) == ms(due)


def test_a_duration_leaving_the_calendar_is_a_timer_error() -> None:
    with pytest.raises(TimerError, match="Duration leaves the supported date range"):
        due_ms(TimerDefinition("duration", "P9000Y"), ms("2024-01-01T00:00:00+00:00"), {})


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2030-01-01T09:00:00+01:00", datetime(2030, 1, 1, 9, tzinfo=timezone(timedelta(hours=1)))),
        ("2030-01-01T08:00:00Z", datetime(2030, 1, 1, 8, tzinfo=UTC)),
        ("2030-01-01T08:00:00", datetime(2030, 1, 1, 8, tzinfo=UTC)),
        ("2030-01-01T08:00:00.123-0230", datetime(2030, 1, 1, 8, 0, 0, 123000, tzinfo=MINUS_2_30)),
        ("2030-01-01T08:00Z", datetime(2030, 1, 1, 8, tzinfo=UTC)),
        ("2030-01-01", datetime(2030, 1, 1, tzinfo=UTC)),
    ],
)
def test_dates(text: str, expected: datetime) -> None:
    assert parse_date(text) == expected
    assert parse_date(text).utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "text",
    ["tomorrow", "2030-01-01 08:00:00", "2030-13-01", "2030-02-30T00:00:00Z", "30-01-01", ""],
)
def test_invalid_dates(text: str) -> None:
    with pytest.raises(TimerError) as caught:
        parse_date(text)
    assert str(caught.value) == f"Invalid ISO-8601 date '{text}'"


def test_a_date_timer_is_due_at_its_instant_whatever_now_is() -> None:
    definition = TimerDefinition.parse("date", " 2030-01-01T09:00:00+01:00\n")
    assert definition == TimerDefinition("date", "2030-01-01T09:00:00+01:00")
    assert due_ms(definition, 0, {}) == ms("2030-01-01T08:00:00+00:00") == 1893484800000


def test_parse_validates_literals_and_keeps_expressions() -> None:
    assert TimerDefinition.parse("duration", "${delay}") == TimerDefinition(
        "duration", Expression.parse("${delay}")
    )
    with pytest.raises(TimerError, match="Invalid ISO-8601 duration 'PT'"):
        TimerDefinition.parse("duration", "PT")
    with pytest.raises(TimerError, match="Invalid ISO-8601 date 'P1D'"):
        TimerDefinition.parse("date", "P1D")
    with pytest.raises(ExpressionError):
        TimerDefinition.parse("date", "${")


def test_expression_timers_are_evaluated_against_the_variables() -> None:
    now = ms("2024-01-01T00:00:00+00:00")
    duration = TimerDefinition.parse("duration", "${delay}")
    assert due_ms(duration, now, {"delay": "PT5M"}) == now + 300_000
    assert due_ms(TimerDefinition.parse("duration", "PT${n}H"), now, {"n": 2}) == now + 7_200_000
    date = TimerDefinition.parse("date", "${when}")
    assert due_ms(date, now, {"when": "2024-01-02T00:00:00Z"}) == now + 86_400_000
    aware = datetime(2024, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    assert due_ms(date, now, {"when": aware}) == now
    assert due_ms(date, now, {"when": datetime(2024, 1, 1, 0, 0, 1)}) == now + 1000


def test_bad_expression_results_are_timer_errors() -> None:
    duration = TimerDefinition.parse("duration", "${delay}")
    with pytest.raises(TimerError) as caught:
        due_ms(duration, 0, {"delay": 5})
    assert str(caught.value) == "Timer duration must be an ISO-8601 string, not 5"
    with pytest.raises(TimerError, match="Invalid ISO-8601 duration 'soon'"):
        due_ms(duration, 0, {"delay": "soon"})
    with pytest.raises(TimerError) as caught:
        due_ms(TimerDefinition.parse("date", "${when}"), 0, {"when": None})
    assert str(caught.value) == "Timer date must be an ISO-8601 string or a date, not None"
    with pytest.raises(ExpressionError, match="Cannot resolve identifier 'delay'"):
        due_ms(duration, 0, {})
