"""Call activities in the parser: what is modelled, and each problem Camunda's parser reports
(BpmnParse#parseCallActivity), naming the element."""

from __future__ import annotations

import pytest

from redtask.broker.bpmn import CallActivity, CallParameter, Expression, parse_bpmn
from tests.broker.bpmn.test_parser_problems import document, problems


def _call(attributes: str, extensions: str = "") -> bytes:
    return document(
        f'<callActivity id="x" {attributes}><extensionElements>{extensions}'
        "</extensionElements></callActivity>"
    )


def test_a_call_activity_with_every_supported_attribute() -> None:
    data = _call(
        'calledElement="${which}" camunda:calledElementBinding="versionTag" '
        'camunda:calledElementVersionTag="v2" camunda:calledElementTenantId="${tenant}"',
        '<camunda:in businessKey="#{order}" /><camunda:in source="a" target="b" local="true" />'
        '<camunda:in variables="all" /><camunda:out sourceExpression="${c + 1}" target="d" />'
        '<camunda:out variables="all" local="true" />',
    )
    [model] = parse_bpmn(data, "call.bpmn")
    call = model.elements["x"]
    assert isinstance(call, CallActivity)
    assert call.called_element == Expression.parse("${which}")
    assert (call.binding, call.version, call.version_tag) == ("versionTag", None, "v2")
    assert call.tenant_id == Expression.parse("${tenant}")
    assert call.business_key == Expression.parse("#{order}")
    assert call.ins == (
        CallParameter(source="a", target="b", local=True),
        CallParameter(all=True),
    )
    assert call.outs == (
        CallParameter(source_expression=Expression.parse("${c + 1}"), target="d"),
        CallParameter(all=True, local=True),
    )


def test_the_binding_defaults_to_latest() -> None:
    [model] = parse_bpmn(_call('calledElement="other"'), "call.bpmn")
    call = model.elements["x"]
    assert isinstance(call, CallActivity)
    assert (call.called_element, call.binding) == ("other", "latest")


PROBLEMS = {
    "no called element": ("", "Missing attribute 'calledElement' or 'caseRef'"),
    "case": ('camunda:caseRef="c"', "camunda:caseRef on 'x' is not supported"),
    "mapping class": (
        'calledElement="o" camunda:variableMappingClass="a.B"',
        "camunda:variableMappingClass on 'x' is not supported",
    ),
    "version without version": (
        'calledElement="o" camunda:calledElementBinding="version"',
        "Missing attribute 'calledElementVersion' when 'calledElementBinding' has value 'version'",
    ),
    "version tag without tag": (
        'calledElement="o" camunda:calledElementBinding="versionTag"',
        "Missing attribute 'calledElementVersionTag' when 'calledElementBinding' has value "
        "'versionTag'",
    ),
}
MAPPING_PROBLEMS = {
    "empty source": (
        '<camunda:in source="" target="t" />',
        "Empty attribute 'source' when passing variables",
    ),
    "empty expression": (
        '<camunda:out sourceExpression="" target="t" />',
        "Empty attribute 'sourceExpression' when passing variables",
    ),
    "no source": (
        '<camunda:in target="t" />',
        "Missing parameter 'source' or 'sourceExpression' when passing variables",
    ),
    "no target": (
        '<camunda:out source="s" />',
        "Missing attribute 'target' when attribute 'source' or 'sourceExpression' is set",
    ),
    "empty target": (
        '<camunda:in source="s" target="" />',
        "Empty attribute 'target' when attribute 'source' or 'sourceExpression' is set",
    ),
}


@pytest.mark.parametrize("attributes, message", PROBLEMS.values(), ids=PROBLEMS.keys())
def test_call_activity_attribute_problems(attributes: str, message: str) -> None:
    assert problems(_call(attributes)) == [("x", message)]


@pytest.mark.parametrize("mapping, message", MAPPING_PROBLEMS.values(), ids=MAPPING_PROBLEMS.keys())
def test_call_activity_mapping_problems(mapping: str, message: str) -> None:
    assert problems(_call('calledElement="o"', mapping)) == [("x", message)]


def test_a_boundary_event_may_be_attached_to_a_call_activity() -> None:
    data = document(
        '<callActivity id="x" calledElement="o" />'
        '<boundaryEvent id="b" attachedToRef="x"><errorEventDefinition /></boundaryEvent>'
    )
    [model] = parse_bpmn(data, "call.bpmn")
    assert [b.id for b in model.boundary_events("x")] == ["b"]
