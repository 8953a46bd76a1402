"""broker.variables.normalize: untyped and transient values, the variable map itself, and a
lossless store round trip of every type."""

from __future__ import annotations

import base64

import pytest

from redtask.broker.errors import InvalidVariable
from redtask.broker.model import NewTask, TopicRequest
from redtask.broker.variables import normalize
from tests.broker.variable_helpers import cannot_convert, one, refused

# ------------------------------------------------------------------ untyped and transient


@pytest.mark.parametrize(
    ("value", "typed"),
    [
        (None, {"type": "Null", "value": None, "valueInfo": {}}),
        (True, {"type": "Boolean", "value": True, "valueInfo": {}}),
        (5, {"type": "Integer", "value": 5, "valueInfo": {}}),
        (-(2**31), {"type": "Integer", "value": -(2**31), "valueInfo": {}}),
        (2**31, {"type": "Long", "value": 2**31, "valueInfo": {}}),
        (1.5, {"type": "Double", "value": 1.5, "valueInfo": {}}),
        ("s", {"type": "String", "value": "s", "valueInfo": {}}),
    ],
)
def test_an_untyped_value_takes_the_type_of_its_json_value(value, typed):
    assert one(None, value) == typed


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2]])
def test_an_untyped_object_or_array_is_refused(value):
    assert refused(None, value) == (
        "Cannot convert an untyped JSON object or array; send it with type 'Json'"
    )


def test_an_untyped_integer_beyond_long_is_refused():
    assert refused(None, 2**63) == cannot_convert(str(2**63), "Long", "java.lang.Long")


def test_transient_variables_are_dropped_and_others_kept():
    assert normalize(
        {
            "gone": {"type": "String", "value": "x", "valueInfo": {"transient": True}},
            "kept": {"type": "String", "value": "y", "valueInfo": {"transient": False}},
        }
    ) == {"kept": {"type": "String", "value": "y", "valueInfo": {}}}


def test_no_variables_normalize_to_an_empty_map():
    assert normalize(None) == {}
    assert normalize({}) == {}


# ------------------------------------------------------------------ the map itself


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ([("a", 1)], "variables must be a JSON object"),
        ({"": {"value": 1}}, "variable names must be non-empty strings"),
        ({5: {"value": 1}}, "variable names must be non-empty strings"),
        ({"a": "plain"}, "Variable 'a' must be an object with type and value"),
        ({"a": {"value": 1, "valueInfo": "x"}}, "valueInfo of variable 'a' must be an object"),
    ],
)
def test_malformed_variable_maps_are_refused(variables, message):
    with pytest.raises(InvalidVariable) as caught:
        normalize(variables)

    assert str(caught.value) == message
    assert caught.value.kind == "InvalidRequestException"


def test_the_first_bad_variable_is_named_in_the_error():
    with pytest.raises(InvalidVariable) as caught:
        normalize({"ok": {"value": 1}, "bad": {"type": "Short", "value": 70000}})

    assert str(caught.value) == cannot_convert("70000", "Short", "java.lang.Short")


# ------------------------------------------------------------------ store round trip

EVERY_TYPE = {
    "string": {"type": "String", "value": 'héllo ✓ "quoted"', "valueInfo": {}},
    "boolean": {"type": "Boolean", "value": False, "valueInfo": {}},
    "short": {"type": "Short", "value": -(2**15), "valueInfo": {}},
    "integer": {"type": "Integer", "value": 2**31 - 1, "valueInfo": {}},
    "long": {"type": "Long", "value": 2**62 + 1, "valueInfo": {}},
    "double": {"type": "Double", "value": 0.1 + 0.2, "valueInfo": {}},
    "whole_double": {"type": "Double", "value": 2.0, "valueInfo": {}},
    "date": {"type": "Date", "value": "2015-10-06T16:34:42.123+0200", "valueInfo": {}},
    "bytes": {
        "type": "Bytes",
        "value": base64.b64encode(bytes(range(256))).decode(),
        "valueInfo": {},
    },
    "null": {"type": "Null", "value": None, "valueInfo": {}},
    "object": {
        "type": "Object",
        "value": '{"prop":"v"}',
        "valueInfo": {
            "objectTypeName": "com.example.Order",
            "serializationDataFormat": "application/json",
        },
    },
    "json": {"type": "Json", "value": '{"a":[1,2.5,null]}', "valueInfo": {}},
    "xml": {"type": "Xml", "value": '<order id="1">ü</order>', "valueInfo": {}},
    "file": {
        "type": "File",
        "value": base64.b64encode(b"file\x00content").decode(),
        "valueInfo": {"filename": "a.bin", "mimeType": "application/octet-stream", "encoding": "x"},
    },
}


async def test_every_type_survives_a_publish_and_fetch_unchanged(store):
    task_id = await store.publish(NewTask("t", EVERY_TYPE))

    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("t", 1000)])

    assert task.id == task_id
    assert task.variables == EVERY_TYPE
    assert (await store.get(task_id)).variables == EVERY_TYPE
    assert type(task.variables["whole_double"]["value"]) is float
    assert task.variables["long"]["value"] == 4611686018427387905
    assert task.variables["double"]["value"] == 0.30000000000000004
