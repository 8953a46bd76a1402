"""Number coercions of client text run in linear time (no quadratic regex backtracking)."""

from __future__ import annotations

import time

import pytest

from redtask.broker import variables
from redtask.broker.bpmn import ExpressionError
from redtask.broker.bpmn.expressions import Expression
from redtask.broker.errors import InvalidVariable

NEAR_MISS = "1" * 200_000 + "e"  # digits, then an exponent without digits: no number


def test_a_long_near_number_in_an_expression_fails_in_milliseconds():
    began = time.perf_counter()
    with pytest.raises(ExpressionError, match="Cannot coerce '1111"):
        Expression.parse("${x + 1}").evaluate({"x": NEAR_MISS})
    assert time.perf_counter() - began < 0.5


def test_a_long_near_number_as_a_double_variable_is_refused_in_milliseconds():
    began = time.perf_counter()
    with pytest.raises(InvalidVariable):
        variables.normalize({"x": {"type": "Double", "value": NEAR_MISS}})
    assert time.perf_counter() - began < 0.5


@pytest.mark.parametrize(
    ("text", "number"), [("1.5", 1.5), ("1.", 1.0), (".5", 0.5), ("-2e3", -2000.0), ("7d", 7.0)]
)
def test_decimal_text_still_converts(text, number):
    assert variables.normalize({"x": {"type": "Double", "value": text}})["x"]["value"] == number
