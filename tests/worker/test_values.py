"""Typed Camunda values and Python values convert both ways without loss."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from redtask.worker import Typed
from redtask.worker.values import to_python, to_typed, to_typed_map


@pytest.mark.parametrize(
    ("value", "typed"),
    [
        (None, {"type": "Null", "value": None}),
        (True, {"type": "Boolean", "value": True}),
        (7, {"type": "Integer", "value": 7}),
        (2**31 - 1, {"type": "Integer", "value": 2**31 - 1}),
        (2**31, {"type": "Long", "value": 2**31}),
        (-(2**31) - 1, {"type": "Long", "value": -(2**31) - 1}),
        (1.5, {"type": "Double", "value": 1.5}),
        ("text", {"type": "String", "value": "text"}),
        (b"\x00\xff", {"type": "Bytes", "value": "AP8="}),
        ({"a": [1, None]}, {"type": "Json", "value": '{"a":[1,null]}'}),
        (
            datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=timezone(timedelta(hours=2))),
            {"type": "Date", "value": "2026-01-02T03:04:05.678+0200"},
        ),
    ],
)
def test_python_values_get_the_type_camunda_would_store_and_come_back_unchanged(
    value: object, typed: dict[str, object]
) -> None:
    assert to_typed(value) == typed
    assert to_python(typed) == value


def test_a_naive_datetime_is_sent_as_utc() -> None:
    assert to_typed(datetime(2026, 1, 2, 3, 4, 5)) == {
        "type": "Date",
        "value": "2026-01-02T03:04:05.000+0000",
    }
    assert to_python({"type": "Date", "value": "2026-01-02T03:04:05.000+0000"}) == datetime(
        2026, 1, 2, 3, 4, 5, tzinfo=UTC
    )


def test_typed_forces_a_type_and_keeps_value_info() -> None:
    assert to_typed(Typed("Long", 5)) == {"type": "Long", "value": 5}
    assert to_typed(
        Typed("Object", '{"x":1}', {"serializationDataFormat": "application/json"})
    ) == {
        "type": "Object",
        "value": '{"x":1}',
        "valueInfo": {"serializationDataFormat": "application/json"},
    }


def test_json_objects_and_files_arrive_as_python_values() -> None:
    json_object = {
        "type": "Object",
        "value": '{"x":1}',
        "valueInfo": {"serializationDataFormat": "application/json", "objectTypeName": "X"},
    }
    assert to_python(json_object) == {"x": 1}
    java_object = {**json_object, "valueInfo": {"serializationDataFormat": "java"}}
    assert to_python(java_object) == '{"x":1}'
    assert to_python({"type": "File", "value": "aGk=", "valueInfo": {}}) == b"hi"
    assert to_python({"type": "Xml", "value": "<a/>"}) == "<a/>"


def test_a_value_without_a_camunda_type_names_the_variable() -> None:
    with pytest.raises(TypeError, match="variable 'when': no Camunda type for a value of type set"):
        to_typed_map({"ok": 1, "when": {1, 2}})
