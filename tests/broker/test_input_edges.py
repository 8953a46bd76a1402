"""Edge values of client input that used to escape as a 500 or stall the gateway: a Double
beyond float range, a long not-quite-number checked as a Double, a number literal of thousands
of digits in a deployed expression."""

from __future__ import annotations

import time

import pytest

from redtask.broker.bpmn import Expression, ExpressionError
from redtask.broker.errors import InvalidVariable
from redtask.broker.variables import normalize


@pytest.mark.parametrize("value", [10**400, -(10**400), 2**1024])
def test_a_double_beyond_float_range_cannot_be_converted(value: int) -> None:
    with pytest.raises(InvalidVariable) as caught:
        normalize({"d": {"type": "Double", "value": value}})

    assert str(caught.value) == (
        f"Cannot convert value '{value}' of type 'Double' to java type java.lang.Double"
    )


def test_a_long_string_that_is_almost_a_double_is_refused_in_linear_time() -> None:
    value = "1" * 200_000 + "x"  # the old pattern backtracked quadratically (16k digits: 10 s)
    started = time.perf_counter()

    with pytest.raises(InvalidVariable):
        normalize({"d": {"type": "Double", "value": value}})

    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1.0), ("1.", 1.0), (".5", 0.5), ("-2.5e3", -2500.0), ("1e2d", 100.0), ("+.5F", 0.5)],
)
def test_the_double_strings_java_accepts_still_convert(text: str, expected: float) -> None:
    typed = normalize({"d": {"type": "Double", "value": text}})

    assert typed["d"]["value"] == expected


@pytest.mark.parametrize("text", [".", "e5", "1..2", "1e", "1.5.", "", "1x"])
def test_what_java_refuses_as_a_double_is_refused(text: str) -> None:
    with pytest.raises(InvalidVariable):
        normalize({"d": {"type": "Double", "value": text}})


@pytest.mark.parametrize("digits", [101, 5000, 100_000])
def test_a_number_literal_longer_than_100_characters_is_a_parse_error(digits: int) -> None:
    text = "${x > " + "1" * digits + "}"

    with pytest.raises(ExpressionError) as caught:
        Expression.parse(text)

    assert str(caught.value) == (
        f"Error parsing '{text}': number literal longer than 100 characters at position 6"
    )


def test_a_number_literal_of_100_characters_is_read() -> None:
    assert Expression.parse("${" + "9" * 100 + "}").evaluate({}) == int("9" * 100)
    assert Expression.parse("${" + "1" * 98 + ".5}").evaluate({}) == float("1" * 98 + ".5")
