"""SQL LIKE without backtracking (redtask.broker.like), in Python and in fetch_and_lock.lua."""

from __future__ import annotations

import itertools
import re
import time

import pytest

from redtask.broker.like import like
from redtask.broker.query import compare


def reference(value: str, pattern: str) -> bool:
    """The old regular-expression translation, kept here only as the oracle on tiny inputs."""
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.match(body + r"\Z", value, re.DOTALL) is not None


def test_like_agrees_with_the_regular_expression_on_every_small_value_and_pattern():
    values = ["".join(p) for n in range(5) for p in itertools.product("ab", repeat=n)]
    patterns = ["".join(p) for n in range(5) for p in itertools.product("ab%_", repeat=n)]
    for value in [*values, "a\nb", "é_x", "%", "_"]:
        for pattern in [*patterns, "a%\n%b", "%é%", "%\\%", "%.*%", "__%__"]:
            assert like(value, pattern) == reference(value, pattern), (value, pattern)


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("invoice-2024", "invoice%", True),
        ("invoice-2024", "%2024", True),
        ("invoice-2024", "%ce-2%", True),
        ("invoice-2024", "invoice-____", True),
        ("invoice-2024", "invoice-___", False),
        ("abcabc", "%abc%abc%", True),
        ("abcab", "%abc%abc%", False),
        ("aXbXc", "a%b%c", True),
        ("ab", "a%%%b", True),
        ("a", "a%a", False),
        ("", "%", True),
        ("", "_", False),
        ("v1.0", "v1.0", True),
        ("v1x0", "v1.0", False),
    ],
)
def test_like_matches_exactly(value, pattern, expected):
    assert like(value, pattern) is expected


def test_like_and_not_like_compare_ignoring_case():
    assert compare("Invoice-7", "like", "invoice%", ignore_case=True) is True
    assert compare("Invoice-7", "like", "invoice%") is False
    assert compare("Invoice-7", "notLike", "invoice%") is True


@pytest.mark.parametrize(
    "pattern",
    [
        "%" * 5_000 + "b",
        "%a" * 2_500 + "%b",
        "%" + "_" * 2_000 + "b",
        "%" + "a_" * 2_000 + "b%",
        "_%" * 2_000 + "b",
    ],
    ids=["percents", "percent-a", "underscores", "a-underscore", "underscore-percent"],
)
def test_the_worst_patterns_take_milliseconds_on_a_long_value(pattern):
    value = "a" * 20_000
    started = time.perf_counter()
    assert like(value, pattern) is False
    assert compare(value, "notLike", pattern, ignore_case=True) is True
    assert time.perf_counter() - started < 0.5
