"""The GJSON subset of tests/deploy/gjson.py reads paths as gjson's own documentation (SYNTAX.md)
says, and reads a topic's count or 0 from the gateway's topic statistics."""

from __future__ import annotations

import pytest

from tests.deploy.gjson import MISSING, get

DOC = {
    "name": {"first": "Tom", "last": "Anderson"},
    "age": 37,
    "children": ["Sara", "Alex", "Jack"],
    "friends": [
        {"first": "Dale", "last": "Murphy", "age": 44},
        {"first": "Roger", "last": "Craig", "age": 68},
        {"first": "Jane", "last": "Murphy", "age": 47},
    ],
}
TOPICS = [
    {"topicName": "reserve-stock", "available": 3, "locked": 1, "retrying": 0, "incidents": 0},
    {"topicName": "ship-express", "available": 0, "locked": 2, "retrying": 0, "incidents": 0},
]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("name.last", "Anderson"),
        ("age", 37),
        ("children.1", "Alex"),
        ("friends.1.first", "Roger"),
        ('friends.#(last=="Murphy").first', "Dale"),
        ("children.5", MISSING),
        ('friends.#(last=="Nobody").first', MISSING),
        ("[name.first,age,nothing]", ["Tom", 37]),  # a path without a result is left out
        ("[nothing,!0]|0", 0),
        ("[age,!0]|0", 37),
    ],
)
def test_paths_read_as_gjson_documents_them(path: str, value: object) -> None:
    assert get(DOC, path) == value


def test_a_topic_s_count_or_zero_when_the_topic_has_no_row() -> None:
    location = '[#(topicName=="{}").{},!0]|0'
    assert get(TOPICS, location.format("reserve-stock", "available")) == 3
    assert get(TOPICS, location.format("reserve-stock", "locked")) == 1
    assert get(TOPICS, location.format("ship-express", "available")) == 0
    assert get(TOPICS, location.format("ship-standard", "available")) == 0
    assert get([], location.format("ship-standard", "locked")) == 0


def test_syntax_outside_the_subset_is_refused() -> None:
    with pytest.raises(NotImplementedError):
        get(TOPICS, "#.available")
    with pytest.raises(NotImplementedError):
        get(TOPICS, "#(available>1)#.topicName")
