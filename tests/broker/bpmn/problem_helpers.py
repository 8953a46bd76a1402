"""Helpers of the parse-problem tests (tests/broker/bpmn/test_parser_*problems.py): a BPMN
document around a process body, and the problems parsing it raises."""

from __future__ import annotations

import pytest

from redtask.broker.bpmn import BpmnParseError, parse_bpmn

NS = (
    'xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)


def document(body: str, *, head: str = "", start: bool = True) -> bytes:
    start_event = '<startEvent id="start"/>' if start else ""
    return (
        f'<definitions {NS}>{head}<process id="p" isExecutable="true">'
        f"{start_event}{body}</process></definitions>"
    ).encode()


def problems(data: bytes) -> list[tuple[str | None, str]]:
    with pytest.raises(BpmnParseError) as caught:
        parse_bpmn(data, "test.bpmn")
    return [(p.element_id, p.message) for p in caught.value.problems]
