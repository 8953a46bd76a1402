"""Unsupported constructs and broken references are refused with problems naming the element:
a whole file's problems at once, broken references with their lines, the error's shape, and
the rules of a process as a whole. tests/broker/bpmn/test_parser_construct_problems.py: each
construct's own problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from redtask.broker.bpmn import BpmnParseError, Problem, parse_bpmn
from redtask.broker.errors import InvalidArgument
from tests.broker.bpmn.problem_helpers import NS, document, problems

FILES = Path(__file__).parent / "files"


def test_every_unsupported_element_of_a_file_is_reported_at_once() -> None:
    with pytest.raises(BpmnParseError) as caught:
        parse_bpmn((FILES / "unsupported.bpmn").read_bytes(), "unsupported.bpmn")
    assert [(p.element_id, p.line, p.message) for p in caught.value.problems] == [
        ("kitchen_sink", 11, "camunda:executionListener on 'kitchen_sink' is not supported"),
        ("msg_start", 14, "attribute 'messageRef' is required"),
        ("approve", 17, "Element 'approve' is a <userTask>, which is not supported"),
        ("script", 18, "Element 'script' is a <scriptTask>, which is not supported"),
        ("call", 19, "camunda:caseRef on 'call' is not supported"),
        ("complex", 21, "Element 'complex' is a <complexGateway>, which is not supported"),
        ("java", 22, "serviceTask 'java' is not supported: only camunda:type=\"external\" is"),
        ("many", 24, "'many' has a <standardLoopCharacteristics>, which is not supported"),
        (
            "compensation",
            36,
            "Boundary event 'compensation' with compensateEventDefinition is not supported: "
            "only error, timer, message and signal are",
        ),
        (
            "scripted",
            39,
            "Condition of sequence flow 'scripted' is a script: only ${...} is supported",
        ),
    ]


def test_broken_references_are_each_reported_with_their_line() -> None:
    with pytest.raises(BpmnParseError) as caught:
        parse_bpmn((FILES / "broken_references.bpmn").read_bytes(), "broken_references.bpmn")
    assert caught.value.problems == (
        Problem(
            "External tasks must specify a 'topic' attribute in the camunda namespace",
            16, 0, "no_topic", ("no_topic",),
        ),
        Problem(
            "Value 'high' for attribute 'taskPriority' is not a valid number",
            17, 0, "bad_priority", ("bad_priority",),
        ),
        Problem(
            "Invalid 'messageRef': no message with id 'Msg_missing' found.",
            20, 0, "wait", ("wait",),
        ),
        Problem(
            "Invalid destination 'ghost' of sequence flow 'f_ghost_target'",
            10, 0, "f_ghost_target", ("f_ghost_target",),
        ),
        Problem(
            "Invalid source 'phantom' of sequence flow 'f_ghost_source'",
            11, 0, "f_ghost_source", ("f_ghost_source",),
        ),
        Problem(
            "Invalid condition of sequence flow 'f_bad_condition': "
            "Error parsing '${amount >}': unexpected '}' at position 10",
            21, 0, "f_bad_condition", ("f_bad_condition",),
        ),
        Problem(
            "Condition of sequence flow 'f_literal_condition' must be an expression ${...}, "
            "not 'true'",
            24, 0, "f_literal_condition", ("f_literal_condition",),
        ),
        Problem(
            "Invalid destination 'inner_task' of sequence flow 'f_cross'",
            28, 0, "f_cross", ("f_cross",),
        ),
        Problem(
            "Invalid destination 'end' of sequence flow 'f_out'",
            32, 0, "f_out", ("f_out",),
        ),
        Problem(
            "Default flow 'f_elsewhere' of 'gw' is not an outgoing flow of it",
            12, 0, "gw", ("gw", "f_elsewhere"),
        ),
        Problem(
            "Invalid reference in boundary event. Make sure that the referenced activity is "
            "defined in the same scope as the boundary event",
            18, 0, "lost", ("lost",),
        ),
        Problem(
            "Boundary event 'on_gateway' is attached to 'gw' (a <exclusiveGateway>): "
            "only external tasks, sub-processes and call activities can be",
            19, 0, "on_gateway", ("on_gateway",),
        ),
    )  # fmt: skip


def test_the_error_is_an_invalid_argument_with_camundas_message_shape() -> None:
    data = document('<serviceTask id="t" camunda:type="external"/><userTask id="u"/>')
    with pytest.raises(BpmnParseError) as caught:
        parse_bpmn(data, "order.bpmn")
    error = caught.value
    assert isinstance(error, InvalidArgument)
    assert error.resource_name == "order.bpmn"
    assert str(error) == (
        "ENGINE-09005 Could not parse BPMN process. Errors: "
        "\n* External tasks must specify a 'topic' attribute in the camunda namespace"
        " | resource order.bpmn | line 1"
        "\n* Element 'u' is a <userTask>, which is not supported | resource order.bpmn | line 1"
    )


def test_a_process_needs_exactly_one_none_start_event() -> None:
    assert problems(document('<endEvent id="e"/>', start=False)) == [
        ("p", "process must define a startEvent element")
    ]
    assert problems(document('<startEvent id="again"/>')) == [
        (
            "p",
            "multiple none start events or timer start events not supported on process definition",
        )
    ]
    assert problems(document('<subProcess id="sub"/>')) == [
        ("sub", "subProcess must define a startEvent element")
    ]


def test_process_level_attributes_are_validated() -> None:
    data = (
        f'<definitions {NS}><process id="p" camunda:historyTimeToLive="forever" '
        'camunda:taskPriority="x"><startEvent id="s"/></process><process isExecutable="true"/>'
        "</definitions>"
    ).encode()
    assert problems(data) == [
        ("p", "Cannot parse historyTimeToLive: 'forever'"),
        ("p", "Value 'x' for attribute 'taskPriority' is not a valid number"),
        (None, "A process has no id"),
    ]


def test_ids_must_be_unique_across_the_processes_of_a_file() -> None:
    data = (
        f'<definitions {NS}><process id="a"><startEvent id="s"/></process>'
        '<process id="b"><startEvent id="s"/></process>'
        '<process id="a"><startEvent id="s2"/></process></definitions>'
    ).encode()
    assert problems(data) == [
        ("s", "Duplicate id 's'"),
        ("a", "Duplicate id 'a'"),
    ]


def test_the_root_must_be_bpmn_definitions() -> None:
    assert problems(b"<definitions/>") == [(None, "The root element must be <bpmn:definitions>")]
