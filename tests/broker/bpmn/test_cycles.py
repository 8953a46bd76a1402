"""Timer cycles: repeating intervals and cron expressions, and when each occurrence is due."""

from __future__ import annotations

import time

import pytest

from redtask.broker.bpmn.cycles import CronCycle, RepeatingInterval, parse_cycle
from redtask.broker.bpmn.timers import TimerError

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
MIN = 60_000


def occurrences(text: str, armed: int, until: int) -> list[int]:
    """Every due time up to ``until``, each fired on time."""
    cycle = parse_cycle(text, armed)
    found, step = [], cycle.first(armed)
    while step is not None and step[0] <= until:
        found.append(step[0])
        step = cycle.next(step[0], step[1], step[0])
    return found


def test_r3_falls_due_three_times_a_period_apart_from_the_arm_time() -> None:
    assert occurrences("R3/PT10M", T0, T0 + 10**9) == [T0 + 10 * MIN, T0 + 20 * MIN, T0 + 30 * MIN]


def test_r_without_count_repeats_forever() -> None:
    assert len(occurrences("R/PT1H", T0, T0 + 100 * 60 * MIN)) == 100


def test_a_start_date_is_the_first_occurrence() -> None:
    start = 1_700_006_400_000  # 2023-11-15T00:00:00Z
    assert occurrences("R2/2023-11-15T00:00:00Z/PT1H", T0, T0 + 10**9) == [start, start + 60 * MIN]


def test_missed_occurrences_are_skipped_and_count_towards_the_total() -> None:
    cycle = parse_cycle("R5/PT1M", T0)
    assert isinstance(cycle, RepeatingInterval)
    # the first fell due at T0 + 1 min but fires only at T0 + 3.5 min
    assert cycle.next(T0 + MIN, 1, T0 + 3 * MIN + 30_000) == (T0 + 4 * MIN, 4)
    assert cycle.next(T0 + 4 * MIN, 4, T0 + 4 * MIN) == (T0 + 5 * MIN, 5)
    assert cycle.next(T0 + 5 * MIN, 5, T0 + 5 * MIN) is None
    assert cycle.next(T0 + MIN, 1, T0 + 60 * MIN) is None


def test_a_monthly_cycle_steps_by_calendar_months() -> None:
    armed = 1_706_659_200_000  # 2024-01-31T00:00:00Z
    due = occurrences("R3/P1M", armed, armed + 10**11)
    days = [(d - armed) // (24 * 60 * MIN) for d in due]
    assert days == [29, 58, 89]  # Feb 29, Mar 29, Apr 29 (clamped once, then kept)


def test_cron_uses_six_fields_with_seconds_first_in_utc() -> None:
    assert occurrences("0 0/5 * * * ?", T0, T0 + 11 * MIN) == [T0 + 100_000, T0 + 400_000]
    monday_noon = occurrences("0 0 12 ? * MON", T0, T0 + 7 * 24 * 60 * MIN)
    assert monday_noon == [1_700_481_600_000]  # 2023-11-20T12:00:00Z


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("R/PT0.5S", "shorter than the shortest cycle supported"),
        ("R3/-PT1M", "shorter than the shortest cycle supported"),
        ("0 0 0 30 2 ?", "never fires"),
        ("0 0 0 31 4 *", "never fires"),
        ("* * * * *", "expected six fields"),
        ("0 0 12 * * ? 2030", "expected six fields"),
        ("0 0 12 * * MON; rm", "expected six fields"),
        ("0 0 99 * * ?", "Invalid cron expression"),
        ("R3", "Invalid repeating interval"),
    ],
)
def test_bad_cycles_are_refused(text: str, says: str) -> None:
    with pytest.raises(TimerError, match=None) as caught:
        parse_cycle(text, T0)
    assert says in str(caught.value)


def test_the_cron_parser_is_bounded_on_hostile_input() -> None:
    started = time.perf_counter()
    for text in ("0 " * 60, "1-" * 60 + "1", "0 0 0 30 2 ?", "*/1," * 29 + "1 * * * * ?"):
        with pytest.raises(TimerError):
            parse_cycle(text, T0)
    assert time.perf_counter() - started < 2
    assert isinstance(parse_cycle("*/1 * * * * ?", T0), CronCycle)


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("0 0 0 L * ?", 1_701_302_400_000),  # the last day of the month: 2023-11-30
        ("0 0 12 ? * 2#1", 1_701_777_600_000),  # the first Tuesday: 2023-12-05 12:00
        ("0 0 0 1W * ?", 1_701_388_800_000),  # the weekday nearest the 1st: Fri 2023-12-01
        ("0 30 9 ? JAN-MAR MON-FRI", 1_704_101_400_000),  # 2024-01-01 09:30, a Monday
    ],
)
def test_cron_special_characters_and_names(text: str, first: int) -> None:
    step = parse_cycle(text, T0).first(T0)
    assert step is not None and step[0] == first
