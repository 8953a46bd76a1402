"""broker.variables.normalize: Camunda typed values (Camunda's VariableValueDto); a lossless store
round trip."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from redtask.broker.errors import InvalidVariable
from redtask.broker.model import NewTask, TopicRequest
from redtask.broker.variables import normalize

TYPE_NAMES = [
    "String",
    "Boolean",
    "Short",
    "Integer",
    "Long",
    "Double",
    "Date",
    "Bytes",
    "Null",
    "Object",
    "Json",
    "Xml",
    "File",
]


def one(type_name: str | None, value: Any, value_info: dict[str, Any] | None = None) -> Any:
    """Normalize a single variable and return its typed value."""
    dto: dict[str, Any] = {"value": value}
    if type_name is not None:
        dto["type"] = type_name
    if value_info is not None:
        dto["valueInfo"] = value_info
    return normalize({"v": dto})["v"]


def refused(type_name: str | None, value: Any, value_info: dict[str, Any] | None = None) -> str:
    """Normalize a single variable that must be refused; return the error message."""
    with pytest.raises(InvalidVariable) as caught:
        one(type_name, value, value_info)
    assert caught.value.kind == "InvalidRequestException"
    return str(caught.value)


def cannot_convert(value: str, type_name: str, java: str) -> str:
    return f"Cannot convert value '{value}' of type '{type_name}' to java type {java}"


# ------------------------------------------------------------------ type names


@pytest.mark.parametrize("name", TYPE_NAMES)
def test_every_type_name_is_accepted_as_written(name):
    assert one(name, None, {"filename": "f.bin"})["type"] == name


@pytest.mark.parametrize("name", TYPE_NAMES)
def test_a_lower_case_first_letter_is_accepted(name):
    assert one(name[0].lower() + name[1:], None, {"filename": "f.bin"})["type"] == name


@pytest.mark.parametrize("raw", ["STRING", "sTRING", "Foo", "", 5])
def test_other_type_names_are_unsupported_rest_exceptions(raw):
    with pytest.raises(InvalidVariable) as caught:
        one(raw, "x")

    assert caught.value.kind == "RestException"
    assert str(caught.value) == f"Unsupported value type '{raw}'"


# ------------------------------------------------------------------ String


@pytest.mark.parametrize(
    ("value", "stored"),
    [("abc", "abc"), ("", ""), (5, "5"), (True, "true"), (False, "false"), (1.5, "1.5")],
)
def test_string_values_and_stringified_scalars(value, stored):
    assert one("String", value) == {"type": "String", "value": stored, "valueInfo": {}}


def test_a_null_string_stays_null():
    assert one("String", None) == {"type": "String", "value": None, "valueInfo": {}}


def test_a_list_is_not_a_string():
    assert refused("String", [1, 2]) == cannot_convert("[1, 2]", "String", "java.lang.String")


# ------------------------------------------------------------------ Boolean


@pytest.mark.parametrize(
    ("value", "stored"), [(True, True), (False, False), ("true", True), ("false", False)]
)
def test_booleans_and_boolean_strings(value, stored):
    assert one("Boolean", value) == {"type": "Boolean", "value": stored, "valueInfo": {}}


@pytest.mark.parametrize(("value", "shown"), [(1, "1"), ("yes", "yes"), (0.0, "0.0")])
def test_other_values_are_not_booleans(value, shown):
    assert refused("Boolean", value) == cannot_convert(shown, "Boolean", "java.lang.Boolean")


# ------------------------------------------------------------------ Short, Integer, Long


@pytest.mark.parametrize(
    ("type_name", "value", "stored"),
    [
        ("Short", -(2**15), -(2**15)),
        ("Short", 2**15 - 1, 2**15 - 1),
        ("Short", "12", 12),
        ("Integer", "5", 5),
        ("Integer", -(2**31), -(2**31)),
        ("Integer", 2**31 - 1, 2**31 - 1),
        ("Integer", "-42", -42),
        ("Long", -(2**63), -(2**63)),
        ("Long", 2**63 - 1, 2**63 - 1),
        ("Long", "9223372036854775807", 2**63 - 1),
    ],
)
def test_integral_values_within_range_and_numeric_strings(type_name, value, stored):
    typed = one(type_name, value)

    assert typed == {"type": type_name, "value": stored, "valueInfo": {}}
    assert type(typed["value"]) is int


@pytest.mark.parametrize(
    ("type_name", "value", "java"),
    [
        ("Short", 2**15, "java.lang.Short"),
        ("Short", -(2**15) - 1, "java.lang.Short"),
        ("Integer", 2**31, "java.lang.Integer"),
        ("Integer", -(2**31) - 1, "java.lang.Integer"),
        ("Long", 2**63, "java.lang.Long"),
        ("Long", -(2**63) - 1, "java.lang.Long"),
    ],
)
def test_integral_values_out_of_range_are_refused(type_name, value, java):
    assert refused(type_name, value) == cannot_convert(str(value), type_name, java)


def test_an_out_of_range_numeric_string_is_refused_with_its_text():
    assert refused("Integer", "2147483648") == cannot_convert(
        "2147483648", "Integer", "java.lang.Integer"
    )


@pytest.mark.parametrize(
    ("value", "shown"), [(5.0, "5.0"), (True, "true"), ("five", "five"), ("5.5", "5.5")]
)
def test_decimals_booleans_and_words_are_not_integers(value, shown):
    assert refused("Integer", value) == cannot_convert(shown, "Integer", "java.lang.Integer")


@pytest.mark.parametrize(
    ("type_name", "value", "java"),
    [
        ("Short", "1_0", "java.lang.Short"),
        ("Integer", "1_000", "java.lang.Integer"),
        ("Long", "1_000_000", "java.lang.Long"),
        ("Double", "1_000.5", "java.lang.Double"),
    ],
)
def test_a_numeric_string_with_digit_separators_is_not_a_number(type_name, value, java):
    # Java's parsers (Integer.parseInt, Double.parseDouble, Jackson) refuse underscores.
    assert refused(type_name, value) == cannot_convert(value, type_name, java)


def test_a_null_integer_stays_null():
    assert one("Integer", None) == {"type": "Integer", "value": None, "valueInfo": {}}


# ------------------------------------------------------------------ Double


@pytest.mark.parametrize(("value", "stored"), [(3, 3.0), (2.5, 2.5), ("2.5", 2.5), ("-1e3", -1e3)])
def test_doubles_widen_ints_and_parse_numeric_strings(value, stored):
    typed = one("Double", value)

    assert typed == {"type": "Double", "value": stored, "valueInfo": {}}
    assert type(typed["value"]) is float


@pytest.mark.parametrize(("value", "shown"), [(True, "true"), ("x", "x")])
def test_booleans_and_words_are_not_doubles(value, shown):
    assert refused("Double", value) == cannot_convert(shown, "Double", "java.lang.Double")


# ------------------------------------------------------------------ Date


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("2015-10-06T16:34:42.000+0200", "2015-10-06T16:34:42.000+0200"),
        ("2015-10-06T16:34:42.123-0530", "2015-10-06T16:34:42.123-0530"),
        ("2015-10-06T16:34:42+02:00", "2015-10-06T16:34:42.000+0200"),
        ("2015-10-06T16:34:42.5Z", "2015-10-06T16:34:42.500+0000"),
    ],
)
def test_dates_keep_their_instant_and_offset_in_the_rest_format(value, stored):
    assert one("Date", value) == {"type": "Date", "value": stored, "valueInfo": {}}


@pytest.mark.parametrize(("value", "shown"), [("2015-10-06", "2015-10-06"), (5, "5")])
def test_values_that_are_not_date_times_are_refused(value, shown):
    assert refused("Date", value) == cannot_convert(shown, "Date", "java.util.Date")


# ------------------------------------------------------------------ Bytes and File


def test_bytes_are_stored_as_canonical_base64():
    encoded = base64.b64encode(bytes(range(256))).decode()

    assert one("Bytes", encoded) == {"type": "Bytes", "value": encoded, "valueInfo": {}}


@pytest.mark.parametrize(
    ("value", "shown"), [("not base64!", "not base64!"), ("aGVsbG8", "aGVsbG8"), (5, "5")]
)
def test_values_that_are_not_base64_strings_are_not_bytes(value, shown):
    assert refused("Bytes", value) == cannot_convert(shown, "Bytes", "byte[]")


def test_a_file_keeps_its_content_and_file_value_info_only():
    content = base64.b64encode(b"line 1\nline 2\n").decode()

    assert one(
        "File",
        content,
        {"filename": "notes.txt", "mimeType": "text/plain", "encoding": "UTF-8", "other": "x"},
    ) == {
        "type": "File",
        "value": content,
        "valueInfo": {"filename": "notes.txt", "mimeType": "text/plain", "encoding": "UTF-8"},
    }


def test_a_file_without_filename_is_refused():
    content = base64.b64encode(b"data").decode()

    assert refused("File", content, {"mimeType": "text/plain"}) == (
        "Cannot convert value of variable 'v': File values need valueInfo.filename"
    )


def test_a_file_whose_content_is_not_base64_is_refused():
    assert refused("File", "%%%", {"filename": "a.txt"}) == cannot_convert("%%%", "File", "byte[]")


# ------------------------------------------------------------------ Null


@pytest.mark.parametrize("value", [None, "ignored", 5])
def test_a_null_value_ignores_what_was_sent(value):
    assert one("Null", value) == {"type": "Null", "value": None, "valueInfo": {}}


# ------------------------------------------------------------------ Object, Json, Xml


def test_an_object_keeps_its_serialized_form_and_object_value_info_only():
    assert one(
        "Object",
        '{"prop":"v"}',
        {
            "objectTypeName": "com.example.Order",
            "serializationDataFormat": "application/json",
            "filename": "ignored",
        },
    ) == {
        "type": "Object",
        "value": '{"prop":"v"}',
        "valueInfo": {
            "objectTypeName": "com.example.Order",
            "serializationDataFormat": "application/json",
        },
    }


@pytest.mark.parametrize(
    ("type_name", "value"), [("Json", '{"a":[1,2]}'), ("Xml", '<order id="1"/>'), ("Json", None)]
)
def test_json_and_xml_keep_their_text(type_name, value):
    assert one(type_name, value, {"objectTypeName": "dropped"}) == {
        "type": type_name,
        "value": value,
        "valueInfo": {},
    }


@pytest.mark.parametrize(
    ("type_name", "value"), [("Object", {"prop": "v"}), ("Json", [1, 2]), ("Xml", 5)]
)
def test_serialized_types_need_a_string_or_null(type_name, value):
    assert refused(type_name, value) == (
        f"Must provide 'null' or String value for value of SerializableValue type '{type_name}'."
    )


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


# ------------------------------------------------------------------ the map itself


def test_no_variables_normalize_to_an_empty_map():
    assert normalize(None) == {}
    assert normalize({}) == {}


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
