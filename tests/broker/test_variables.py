"""broker.variables.normalize: Camunda typed values (Camunda's VariableValueDto): the type names
and the scalar types (String, Boolean, Short, Integer, Long, Double, Date).
tests/broker/test_variables_serialized.py: Bytes, File, Null, Object, Json and Xml;
tests/broker/test_variable_maps.py: untyped and transient values, the map itself and a lossless
store round trip."""

from __future__ import annotations

import pytest

from redtask.broker.errors import InvalidVariable
from tests.broker.variable_helpers import cannot_convert, one, refused

# ------------------------------------------------------------------ type names

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
