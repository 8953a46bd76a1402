"""Hostile resources are refused before anything in them is expanded, fetched or evaluated."""

from __future__ import annotations

from pathlib import Path

import pytest

from redtask.broker.bpmn import BpmnParseError, Problem, _xml, parse_bpmn

FILES = Path(__file__).parent / "files"
DTD_REFUSED = Problem("DOCTYPE declarations are not allowed in BPMN resources")
MINIMAL = (
    b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">'
    b'<process id="p" isExecutable="true"><startEvent id="s"/></process></definitions>'
)


def refusal(data: bytes, **limits: int) -> tuple[Problem, ...]:
    with pytest.raises(BpmnParseError) as caught:
        parse_bpmn(data, "hostile.bpmn", **limits)
    return caught.value.problems


def test_an_external_entity_is_refused_and_never_read() -> None:
    problems = refusal((FILES / "xxe.bpmn").read_bytes())
    assert problems == (DTD_REFUSED,)
    assert "root:" not in str(problems)


def test_billion_laughs_is_refused_without_expansion() -> None:
    assert refusal((FILES / "billion_laughs.bpmn").read_bytes()) == (DTD_REFUSED,)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_doctype_in_another_encoding_is_refused_too(encoding: str) -> None:
    text = (FILES / "xxe.bpmn").read_text().replace('encoding="UTF-8"', f'encoding="{encoding}"')
    assert refusal(text.encode(encoding)) == (DTD_REFUSED,)


def test_without_the_byte_scan_the_parser_still_expands_and_fetches_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_xml, "mentions_dtd", lambda data: False)
    in_text = MINIMAL.replace(b"<startEvent", b"<documentation>&secret;</documentation><startEvent")
    xxe = b'<!DOCTYPE d [<!ENTITY secret SYSTEM "file:///etc/passwd">]>' + in_text
    assert refusal(xxe) == (DTD_REFUSED,)
    assert refusal((FILES / "xxe.bpmn").read_bytes()) == (
        Problem("Malformed XML: Attribute references external entity 'secret'", 7, 41),
    )
    [laughs] = refusal((FILES / "billion_laughs.bpmn").read_bytes())
    assert laughs.message.startswith("Malformed XML: Maximum entity amplification factor exceeded")


def test_a_resource_over_the_size_limit_is_refused_before_parsing() -> None:
    data = MINIMAL + b" " * 100
    assert parse_bpmn(data, "ok.bpmn", max_bytes=len(data))[0].key == "p"
    assert refusal(data, max_bytes=len(data) - 1) == (
        Problem(
            f"The resource is {len(data)} bytes long, more than the limit of {len(data) - 1} bytes"
        ),
    )


def test_the_default_size_limit_is_five_mebibytes() -> None:
    data = MINIMAL + b" " * (5 * 1024 * 1024 - len(MINIMAL) + 1)
    assert refusal(data) == (
        Problem("The resource is 5242881 bytes long, more than the limit of 5242880 bytes"),
    )


def _nested(depth: int) -> bytes:
    # definitions > process > depth-2 nested documentation elements
    inner = b"<documentation>" * (depth - 2) + b"</documentation>" * (depth - 2)
    return (
        b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">'
        b'<process id="p" isExecutable="true"><startEvent id="s"/>'
        + inner
        + b"</process></definitions>"
    )


def test_nesting_up_to_the_limit_is_fine_and_one_more_level_is_refused() -> None:
    assert [m.key for m in parse_bpmn(_nested(100), "deep.bpmn")] == ["p"]
    assert refusal(_nested(101)) == (
        Problem("XML elements are nested more than 100 levels deep", line=1),
    )
    assert refusal(_nested(11), max_depth=10) == (
        Problem("XML elements are nested more than 10 levels deep", line=1),
    )


def test_nesting_beyond_libxml2s_own_limit_is_refused_as_malformed() -> None:
    [problem] = refusal(_nested(5000))
    assert problem.message.startswith("Malformed XML: ")
    assert problem.line == 1


def test_malformed_xml_reports_line_and_column() -> None:
    assert refusal(b"<definitions>\n  <process>\n</definitions>") == (
        Problem(
            "Malformed XML: Opening and ending tag mismatch: process line 2 and definitions",
            3,
            15,
        ),
    )


def test_xinclude_is_not_processed() -> None:
    data = MINIMAL.replace(
        b"<startEvent",
        b'<x:include xmlns:x="http://www.w3.org/2001/XInclude" href="/etc/passwd"/><startEvent',
    )
    [model] = parse_bpmn(data, "xinclude.bpmn")
    assert list(model.elements) == ["s"]


def test_expressions_in_a_hostile_file_are_parsed_not_evaluated() -> None:
    data = MINIMAL.replace(
        b'<startEvent id="s"/>',
        b'<startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="e">'
        b"<conditionExpression>${__import__('os').system('touch /tmp/pwned')}"
        b'</conditionExpression></sequenceFlow><endEvent id="e"/>',
    )
    with pytest.raises(BpmnParseError) as caught:
        parse_bpmn(data, "evil.bpmn")
    [problem] = caught.value.problems
    assert problem.element_id == "f"
    assert "function '__import__' is not supported" in problem.message
