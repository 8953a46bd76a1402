"""The expression language: every operator, JUEL coercions, precedence and exact errors."""

from __future__ import annotations

from typing import Any

import pytest

from redtask.broker.bpmn import Expression, ExpressionError, parse_value
from redtask.broker.bpmn._evaluate import JavaLong, java_class
from redtask.broker.bpmn.expressions import MAX_DEPTH

VARS: dict[str, Any] = {
    "n": 5,
    "neg": -7,
    "f": 2.5,
    "s": "abc",
    "num": "10",
    "dec": "1.5",
    "t": True,
    "no": False,
    "nil": None,
    "blank": "",
    "items": [1, "two", 3],
    "none": [],
    "order": {"total": 120, "customer": {"tier": "vip", "name": "Ada"}, "tags": ["a", "b"]},
    "emptyMap": {},
    "task": {"errorDetails": "card declined", "retries": 0, "suspended": False},
}

CASES: list[tuple[str, Any]] = [
    # literals
    ("${42}", 42),
    ("${0042}", 42),
    ("${1.5}", 1.5),
    ("${.5}", 0.5),
    ("${3.}", 3.0),
    ("${1e3}", 1000.0),
    ("${1.5E-2}", 0.015),
    ("${'single'}", "single"),
    ('${"double"}', "double"),
    ("${'it\\'s'}", "it's"),
    ('${"say \\"hi\\""}', 'say "hi"'),
    ("${'back\\\\slash'}", "back\\slash"),
    ("${'}'}", "}"),
    ("${true}", True),
    ("${false}", False),
    ("${null}", None),
    # identifiers and properties
    ("${n}", 5),
    ("${nil}", None),
    ("${order.total}", 120),
    ("${order.customer.tier}", "vip"),
    ("${order['customer']['name']}", "Ada"),
    ('${order["total"]}', 120),
    ("${order.tags[1]}", "b"),
    ("${items[0]}", 1),
    ("${items['1']}", "two"),
    ("${items[3]}", None),
    ("${items[-1]}", None),
    ("${order.missing}", None),
    ("${order.missing.deeper}", None),
    ("${nil.anything}", None),
    ("${order[s]}", None),
    # arithmetic
    ("${1 + 2}", 3),
    ("${5 - 7}", -2),
    ("${6 * 7}", 42),
    ("${7 / 2}", 3.5),
    ("${4 / 2}", 2.0),
    ("${7 div 2}", 3.5),
    ("${7 % 3}", 1),
    ("${7 mod 3}", 1),
    ("${neg % 3}", -1),
    ("${7 % -3}", 1),
    ("${7.5 % 2}", 1.5),
    ("${f * 2}", 5.0),
    ("${n + f}", 7.5),
    ("${num + 1}", 11),
    ("${dec + 1}", 2.5),
    ("${'2' * '3'}", 6),
    ("${null + null}", 0),
    ("${nil + 1}", 1),
    ("${blank + 1}", 1),
    ("${-n}", -5),
    ("${-f}", -2.5),
    ("${--n}", 5),
    ("${-nil}", 0),
    ("${-num}", -10),
    ("${-dec}", -1.5),
    ("${12345678901234567890 + 1}", 12345678901234567891),
    # precedence and grouping
    ("${1 + 2 * 3}", 7),
    ("${(1 + 2) * 3}", 9),
    ("${10 - 4 - 3}", 3),
    ("${100 / 10 / 5}", 2.0),
    ("${2 * 3 % 4}", 2),
    ("${-2 * 3}", -6),
    ("${1 + 2 < 4}", True),
    ("${1 < 2 == true}", True),
    ("${true || false && false}", True),
    ("${(true || false) && false}", False),
    ("${!true || true}", True),
    ("${!(true || true)}", False),
    ("${n > 3 && n < 10 || false}", True),
    ("${1 == 1 ? 'y' : 'n'}", "y"),
    ("${false ? 1 : true ? 2 : 3}", 2),
    ("${false ? 1 : false ? 2 : 3}", 3),
    ("${t ? n + 1 : n - 1}", 6),
    # comparisons
    ("${n < 6}", True),
    ("${n > 6}", False),
    ("${n <= 5}", True),
    ("${n >= 6}", False),
    ("${n lt 6}", True),
    ("${n gt 4}", True),
    ("${n le 4}", False),
    ("${n ge 5}", True),
    ("${f < 3}", True),
    ("${num > 9}", True),
    ("${num > 9.5}", True),
    ("${'abc' < 'abd'}", True),
    ("${'b' > 'abc'}", True),
    ("${s >= 'abc'}", True),
    ("${false < true}", True),
    ("${nil < 1}", False),
    ("${nil > 1}", False),
    ("${nil <= nil}", True),
    ("${nil < nil}", False),
    # equality (EL coercion to the "largest" type)
    ("${n == 5}", True),
    ("${n eq 5}", True),
    ("${n != 5}", False),
    ("${n ne 6}", True),
    ("${n == '5'}", True),
    ("${n == 5.0}", True),
    ("${f == '2.5'}", True),
    ("${num == 10}", True),
    ("${s == 'abc'}", True),
    ('${s == "abc"}', True),
    ("${s != 'abd'}", True),
    ("${t == 'true'}", True),
    ("${t == 'TRUE'}", True),
    ("${no == 'yes'}", True),
    ("${t == true}", True),
    ("${nil == null}", True),
    ("${nil == 0}", False),
    ("${nil != 'x'}", True),
    ("${order.customer == order.customer}", True),
    ("${items == items}", True),
    ("${order.customer.tier == 'vip'}", True),
    # logic
    ("${true && true}", True),
    ("${true and false}", False),
    ("${false || true}", True),
    ("${false or false}", False),
    ("${!t}", False),
    ("${not no}", True),
    ("${!nil}", True),
    ("${'true' && 'TRUE'}", True),
    ("${'yes' || blank}", False),
    ("${false && unknown}", False),
    ("${true || unknown}", True),
    ("${true ? n : unknown}", 5),
    # empty
    ("${empty nil}", True),
    ("${empty blank}", True),
    ("${empty none}", True),
    ("${empty emptyMap}", True),
    ("${empty s}", False),
    ("${empty items}", False),
    ("${empty 0}", False),
    ("${not empty order}", True),
    ("${!empty order.tags}", True),
    ("${empty order.missing}", True),
    # read-only methods
    ("${task.getErrorDetails().contains('declined')}", True),
    ("${task.getErrorDetails().startsWith('card')}", True),
    ("${task.getErrorDetails().endsWith('x')}", False),
    ("${task.getRetries()}", 0),
    ("${task.isSuspended()}", False),
    ("${task.get('retries')}", 0),
    ("${task.containsKey('retries')}", True),
    ("${task.size()}", 3),
    ("${emptyMap.isEmpty()}", True),
    ("${items.size()}", 3),
    ("${items.contains('two')}", True),
    ("${items.get(2)}", 3),
    ("${s.length()}", 3),
    ("${s.toUpperCase()}", "ABC"),
    ("${'  x '.trim()}", "x"),
    ("${s.equals('abc')}", True),
    ("${s.equals(1)}", False),
    ("${s.equalsIgnoreCase('ABC')}", True),
    ("${s.indexOf('c')}", 2),
    ("${s.isEmpty()}", False),
    ("${s.contains(nil)}", True),
    # composite text
    ("plain text", "plain text"),
    ("", ""),
    ("order-${order.total}", "order-120"),
    ("${s}${n}", "abc5"),
    ("${t}/${nil}/${f}", "true//2.5"),
    ("#{n + 1} items", "6 items"),
    ("cost: \\${n}", "cost: ${n}"),
    ("a \\ b", "a \\ b"),
    ("${ n\t+\n1 }", 6),
]


@pytest.mark.parametrize("text, expected", CASES, ids=[c[0] or "<empty>" for c in CASES])
def test_evaluation(text: str, expected: Any) -> None:
    result = Expression.parse(text).evaluate(VARS)
    assert result == expected
    # whether an integer is a Long or an Integer: test_integer_results_have_juels_java_type
    assert type(result) in ((int, JavaLong) if type(expected) is int else (type(expected),))


@pytest.mark.parametrize(
    "text, java_type",
    [
        ("${42}", "java.lang.Long"),
        ("${-42}", "java.lang.Long"),
        ("${1 + 2}", "java.lang.Long"),
        ("${n + 0}", "java.lang.Long"),
        ("${num * 1}", "java.lang.Long"),
        ("${7 % 3}", "java.lang.Long"),
        ("${null + null}", "java.lang.Long"),
        ("${t ? 1 : n}", "java.lang.Long"),
        # an Integer value read from a variable, a JSON number or a size stays an Integer
        ("${n}", "java.lang.Integer"),
        ("${-n}", "java.lang.Integer"),
        ("${f > 1 ? n : 1}", "java.lang.Integer"),
        ("${order.total}", "java.lang.Integer"),
        ("${items.size()}", "java.lang.Integer"),
        ("${s.length()}", "java.lang.Integer"),
    ],
)
def test_integer_results_have_juels_java_type(text: str, java_type: str) -> None:
    assert java_class(Expression.parse(text).evaluate(VARS)) == java_type


PARSE_ERRORS: list[tuple[str, str]] = [
    ("${}", "unexpected '}' at position 2"),
    ("${1 +}", "unexpected '}' at position 5"),
    ("${a b}", "expected '}' but found 'b' at position 4"),
    ("${(1 + 2}", "expected ')' but found '}' at position 8"),
    ("${a[1}", "expected ']' but found '}' at position 5"),
    ("${a ? 1}", "expected ':' but found '}' at position 7"),
    ("${a.}", "expected a property name after '.' at position 4"),
    ("${a.'b'}", "expected a property name after '.' at position 4"),
    ("${a.1}", "expected '}' but found '.1' at position 3"),
    ("${a", "unexpected end of expression, missing '}' at position 3"),
    ("x ${", "unexpected end of expression, missing '}' at position 4"),
    ("${'abc}", "unterminated string at position 2"),
    ("${'a\\n'}", "invalid escape sequence \\n at position 4"),
    ("${a = 1}", "unexpected character '=' at position 4"),
    ("${a & b}", "unexpected character '&' at position 4"),
    ("${a instanceof b}", "'instanceof' is not supported at position 4"),
    ("${exec('x')}", "function 'exec' is not supported at position 2"),
    ("${fn:upper(s)}", "expected '}' but found ':' at position 4"),
    ("${a} #{b}", "cannot mix '${' and '#{'"),
    ("${{}}", "unexpected character '{' at position 2"),
]


@pytest.mark.parametrize("text, detail", PARSE_ERRORS, ids=[c[0] for c in PARSE_ERRORS])
def test_parse_errors(text: str, detail: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        Expression.parse(text)
    assert str(caught.value) == f"Error parsing '{text}': {detail}"


def test_nesting_is_limited_so_python_recursion_never_overflows() -> None:
    deep = MAX_DEPTH - 2
    assert Expression.parse("${" + "(" * deep + "1" + ")" * deep + "}").evaluate({}) == 1
    assert Expression.parse("${" + "1+" * (MAX_DEPTH - 1) + "1}").evaluate({}) == MAX_DEPTH
    for text in (
        "${" + "(" * 5000 + "1" + ")" * 5000 + "}",
        "${" + "-" * 5000 + "1}",
        "${" + "1+" * 5000 + "1}",
        "${" + "a." * 5000 + "b}",
        "${" + "t ? " * 5000 + "1" + " : 2" * 5000 + "}",
    ):
        with pytest.raises(ExpressionError, match=f"nested deeper than {MAX_DEPTH} levels"):
            Expression.parse(text)


UNKNOWN_PROPERTIES: list[tuple[str, str]] = [
    ("${x}", "Cannot resolve identifier 'x'"),
    ("${n + x}", "Cannot resolve identifier 'x'"),
    ("${s.length}", "Could not find property length in class java.lang.String"),
    ("${n.x}", "Could not find property x in class java.lang.Integer"),
    ("${s.__class__}", "Could not find property __class__ in class java.lang.String"),
]


@pytest.mark.parametrize("text, cause", UNKNOWN_PROPERTIES, ids=[c[0] for c in UNKNOWN_PROPERTIES])
def test_unknown_properties(text: str, cause: str) -> None:
    expression = Expression.parse(text)
    with pytest.raises(ExpressionError) as caught:
        expression.evaluate(VARS)
    assert str(caught.value) == f"Unknown property used in expression: {text}. Cause: {cause}"


BOOLEAN, LONG, LIST = "java.lang.Boolean", "java.lang.Long", "java.util.List"
EVALUATION_ERRORS: list[tuple[str, str]] = [
    ("${n == 'abc'}", "Cannot coerce 'abc' to java.lang.Long"),
    ("${f == 'x'}", "Cannot coerce 'x' to java.lang.Double"),
    ("${n == t}", f"Cannot coerce from {BOOLEAN} to {LONG}"),
    ("${t == 1}", f"Cannot coerce from {BOOLEAN} to {LONG}"),
    ("${s + 1}", "Cannot coerce 'abc' to java.lang.Long"),
    ("${'1_000' + 1}", "Cannot coerce '1_000' to java.lang.Long"),
    ("${t + 1}", f"Cannot coerce from {BOOLEAN} to {LONG}"),
    ("${items * 2}", f"Cannot coerce from {LIST} to {LONG}"),
    ("${-s}", "Cannot coerce 'abc' to java.lang.Long"),
    ("${1 / 0}", "Division by zero"),
    ("${1 % 0}", "Division by zero"),
    ("${1.5 mod 0}", "Division by zero"),
    ("${n < true}", f"Cannot coerce from {BOOLEAN} to {LONG}"),
    ("${order < order}", "Cannot compare java.util.Map with java.util.Map"),
    ("${n && true}", f"Cannot coerce from java.lang.Integer to {BOOLEAN}"),
    ("${!items}", f"Cannot coerce from {LIST} to {BOOLEAN}"),
    ("${n ? 1 : 2}", f"Cannot coerce from java.lang.Integer to {BOOLEAN}"),
    ("${order[items]}", "Cannot use a java.util.List as a map key"),
    ("${items.get(9)}", "Index 9 out of bounds for length 3"),
    ("${s.upper()}", "Cannot call method 'upper' with 0 argument(s) on class java.lang.String"),
    ("${s.__len__()}", "Cannot call method '__len__' with 0 argument(s) on class java.lang.String"),
    (
        "${s.contains()}",
        "Cannot call method 'contains' with 0 argument(s) on class java.lang.String",
    ),
    ("${order.keys()}", "Cannot call method 'keys' with 0 argument(s) on class java.util.Map"),
    ("${nil.size()}", "Cannot call method 'size' with 0 argument(s) on null"),
    (
        "${n.getClass()}",
        "Cannot call method 'getClass' with 0 argument(s) on class java.lang.Integer",
    ),
]


@pytest.mark.parametrize("text, cause", EVALUATION_ERRORS, ids=[c[0] for c in EVALUATION_ERRORS])
def test_evaluation_errors(text: str, cause: str) -> None:
    expression = Expression.parse(text)
    with pytest.raises(ExpressionError) as caught:
        expression.evaluate(VARS)
    assert str(caught.value) == f"Error while evaluating expression: {text}. Cause: {cause}"


def test_conditions_must_be_booleans() -> None:
    assert Expression.parse("${n > 1}").evaluate_condition(VARS) is True
    assert Expression.parse("${n > 9}").evaluate_condition(VARS) is False
    with pytest.raises(ExpressionError) as caught:
        Expression.parse("${nil}").evaluate_condition(VARS)
    assert str(caught.value) == "condition expression returns null: result is null"
    for text, expected_class in (
        ("${'true'}", "java.lang.String"),
        ("${n}", "java.lang.Integer"),
        ("${f}", "java.lang.Double"),
        ("${order}", "java.util.Map"),
        ("x ${t}", "java.lang.String"),
    ):
        with pytest.raises(ExpressionError) as caught:
            Expression.parse(text).evaluate_condition(VARS)
        assert str(caught.value) == (
            "condition expression returns non-Boolean: result has class "
            f"{expected_class} and not java.lang.Boolean"
        )


def test_expressions_compare_and_hash_by_text_and_are_reusable() -> None:
    first, second = Expression.parse("${n + 1}"), Expression.parse("${n + 1}")
    assert first == second and hash(first) == hash(second)
    assert first != Expression.parse("${n+1}")
    assert repr(first) == "Expression(text='${n + 1}')"
    assert [first.evaluate({"n": i}) for i in range(3)] == [1, 2, 3]
    assert first.is_literal is False and Expression.parse("a \\${b}").is_literal is True


def test_parse_value_separates_literals_from_expressions() -> None:
    assert parse_value("charge-card") == "charge-card"
    assert parse_value("price \\${x}") == "price ${x}"
    assert parse_value("${topic}") == Expression.parse("${topic}")
    with pytest.raises(ExpressionError):
        parse_value("${")


def test_variables_are_only_read() -> None:
    variables = {"order": {"total": 1}, "items": [1]}
    Expression.parse("${order.total + items[0] + items.size() + order.size()}").evaluate(variables)
    assert variables == {"order": {"total": 1}, "items": [1]}
