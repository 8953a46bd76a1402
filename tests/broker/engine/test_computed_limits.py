"""Expression results are bounded: mappings count against REDTASK_MAX_VARIABLES_BYTES and
composite text is refused before it is built."""

from __future__ import annotations

import tracemalloc

import pytest

from redtask.broker.bpmn import ExpressionError, parse_bpmn
from redtask.broker.bpmn._evaluate import MAX_TEXT
from redtask.broker.bpmn.expressions import Expression
from redtask.broker.engine import CounterIds, start
from redtask.broker.engine.errors import VariablesTooLarge
from redtask.broker.errors import InvalidArgument

NOW = 1_700_000_000_000
MB = 1024 * 1024
LIMIT = 4 * MB


def repeating_inputs(count: int) -> bytes:
    """One external task whose ``count`` input parameters each copy the variable ``big``."""
    inputs = "".join(
        f'<camunda:inputParameter name="copy{i}">${{big}}</camunda:inputParameter>'
        for i in range(count)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">'
        '<bpmn:process id="copies" isExecutable="true">'
        '<bpmn:startEvent id="start" />'
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="t" />'
        '<bpmn:serviceTask id="t" camunda:type="external" camunda:topic="w">'
        "<bpmn:extensionElements><camunda:inputOutput>"
        f"{inputs}</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>"
        '<bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="end" />'
        '<bpmn:endEvent id="end" />'
        "</bpmn:process></bpmn:definitions>"
    ).encode()


def big_variable() -> dict[str, dict]:
    return {"big": {"type": "String", "value": "x" * MB, "valueInfo": {}}}


def test_input_mappings_repeating_a_1mb_variable_42_times_are_refused():
    [model] = parse_bpmn(repeating_inputs(42), "copies.bpmn")

    with pytest.raises(VariablesTooLarge) as refused:
        start(model, "pi", big_variable(), None, None, NOW, CounterIds(), max_bytes=LIMIT)

    # the fourth copy passes 4 MiB: 4 * (1 MiB + quotes and type) + names
    size = 4 * (len('{"type": "String", "value": "", "valueInfo": {}}') + MB) + 4 * len("copyN")
    assert str(refused.value) == (
        f"Cannot evaluate the parameter 'copy3' of 't': the mappings of one step computed "
        f"{size} bytes, more than the limit of {LIMIT} (REDTASK_MAX_VARIABLES_BYTES)"
    )
    assert isinstance(refused.value, InvalidArgument)


def test_input_mappings_within_the_limit_are_computed():
    [model] = parse_bpmn(repeating_inputs(3), "copies.bpmn")

    state, effects = start(
        model, "pi", big_variable(), None, None, NOW, CounterIds(), max_bytes=LIMIT
    )

    [task] = effects.tasks_created
    [token] = [e for e in state.executions if e.id == task.execution_id]
    assert sorted(token.variables) == ["copy0", "copy1", "copy2"]
    assert token.variables["copy2"]["value"] == "x" * MB


def test_a_condition_building_100mb_of_text_is_refused_before_it_is_built():
    condition = Expression.parse("${big}" * 100)
    tracemalloc.start()
    try:
        with pytest.raises(ExpressionError) as refused:
            condition.evaluate_condition({"big": "x" * MB})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert str(refused.value).endswith(f"Cause: the result is longer than {MAX_TEXT} characters")
    assert peak < 20 * MB


def test_composite_text_up_to_the_cap_is_built():
    text = Expression.parse("${big}${big}${big}${big}").evaluate({"big": "y" * MB})

    assert text == "y" * (4 * MB)
