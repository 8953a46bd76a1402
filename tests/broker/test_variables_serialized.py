"""broker.variables.normalize: Camunda typed values that carry a serialized form or a file
(Bytes, File, Object, Json, Xml), and Null."""

from __future__ import annotations

import base64

import pytest

from tests.broker.variable_helpers import cannot_convert, one, refused

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
