"""Link events in the parser: flows into a throwing link event lead to the catching one."""

from __future__ import annotations

from redtask.broker.bpmn import LinkCatchEvent, parse_bpmn
from tests.broker.bpmn.test_parser_problems import document, problems

THROW = '<intermediateThrowEvent id="{0}"><linkEventDefinition {1}/></intermediateThrowEvent>'
CATCH = '<intermediateCatchEvent id="{0}"><linkEventDefinition {1}/></intermediateCatchEvent>'


def test_a_flow_into_a_throwing_link_leads_to_the_catching_one() -> None:
    data = document(
        THROW.format("x", 'name="A"') + CATCH.format("c", 'name="A"') + '<endEvent id="e"/>'
        '<sequenceFlow id="f1" sourceRef="start" targetRef="x"/>'
        '<sequenceFlow id="f2" sourceRef="c" targetRef="e"/>'
    )
    [model] = parse_bpmn(data, "links.bpmn")
    assert model.flows["f1"].target == "c"
    assert "x" not in model.elements
    assert model.elements["c"] == LinkCatchEvent(
        id="c", incoming=("f1",), outgoing=("f2",), link="A"
    )


def test_a_link_without_a_name_is_refused() -> None:
    assert problems(document(CATCH.format("x", ""))) == [
        ("x", "The link event definition of 'x' has no name")
    ]


def test_no_flow_may_leave_a_throwing_link() -> None:
    data = document(
        THROW.format("x", 'name="A"') + CATCH.format("c", 'name="A"')
        + '<sequenceFlow id="f" sourceRef="x" targetRef="c"/>'
    )  # fmt: skip
    assert problems(data) == [("x", "Link event 'x' throws: no sequence flow can leave it")]
