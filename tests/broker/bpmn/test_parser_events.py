"""Parsing signal, message and event-based gateway constructs: what deploys, and what is refused
with Camunda's words (BpmnParse#parseSignals, parseSignalEventDefinition, parseEventBasedGateway,
parseServiceTaskLike)."""

from __future__ import annotations

import pytest

from redtask.broker.bpmn import (
    BoundaryEvent,
    EndEvent,
    EventBasedGateway,
    ExternalTask,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    parse_bpmn,
)
from tests.broker.bpmn.test_parser_problems import document, problems

SIGNALS = '<signal id="S" name="go"/><message id="M" name="paid"/>'
EXT = 'camunda:type="external" camunda:topic="t"'


def test_signal_and_message_events_deploy() -> None:
    body = (
        '<eventBasedGateway id="gw"/>'
        '<sequenceFlow id="f1" sourceRef="gw" targetRef="c1"/>'
        '<sequenceFlow id="f2" sourceRef="gw" targetRef="c2"/>'
        '<intermediateCatchEvent id="c1"><signalEventDefinition signalRef="S"/>'
        "</intermediateCatchEvent>"
        '<intermediateCatchEvent id="c2"><messageEventDefinition messageRef="M"/>'
        "</intermediateCatchEvent>"
        f'<serviceTask id="task" {EXT}/>'
        '<boundaryEvent id="b1" attachedToRef="task" cancelActivity="false">'
        '<signalEventDefinition signalRef="S"/></boundaryEvent>'
        '<boundaryEvent id="b2" attachedToRef="task"><messageEventDefinition messageRef="M"/>'
        "</boundaryEvent>"
        '<intermediateThrowEvent id="t1"><signalEventDefinition signalRef="S"/>'
        "</intermediateThrowEvent>"
        '<intermediateThrowEvent id="t2"><messageEventDefinition messageRef="M"/>'
        "</intermediateThrowEvent>"
        f'<intermediateThrowEvent id="t3"><messageEventDefinition {EXT}/>'
        "</intermediateThrowEvent>"
        '<endEvent id="e1"><signalEventDefinition signalRef="S"/></endEvent>'
        f'<endEvent id="e2"><messageEventDefinition {EXT}/></endEvent>'
        '<endEvent id="e3"><messageEventDefinition/></endEvent>'
    )
    [model] = parse_bpmn(document(body, head=SIGNALS), "events.bpmn")
    e = model.elements
    assert isinstance(e["gw"], EventBasedGateway)
    assert isinstance(e["c1"], IntermediateCatchEvent) and e["c1"].signal_name == "go"
    assert isinstance(e["b1"], BoundaryEvent)
    assert (e["b1"].kind, e["b1"].event_name, e["b1"].cancel_activity) == ("signal", "go", False)
    assert isinstance(e["b2"], BoundaryEvent)
    assert (e["b2"].kind, e["b2"].event_name, e["b2"].cancel_activity) == ("message", "paid", True)
    assert isinstance(e["t1"], IntermediateThrowEvent) and e["t1"].signal_name == "go"
    assert isinstance(e["t2"], IntermediateThrowEvent) and e["t2"].signal_name is None
    assert isinstance(e["t3"], ExternalTask)
    assert e["t3"].task_type == "intermediateMessageThrowEvent"
    assert isinstance(e["e1"], EndEvent) and e["e1"].signal_name == "go"
    assert isinstance(e["e2"], ExternalTask) and e["e2"].task_type == "messageEndEvent"
    assert isinstance(e["e3"], EndEvent) and e["e3"].plain_message


@pytest.mark.parametrize(
    "head, body, expected",
    [
        (
            '<signal id="S1" name="go"/><signal id="S2" name="go"/>',
            "",
            [("S2", "duplicate signal name 'go'.")],
        ),
        ('<signal name="go"/>', "", [(None, "signal must have an id")]),
        ('<signal id="S"/>', "", [("S", "signal with id 'S' has no name")]),
        (
            "",
            '<intermediateCatchEvent id="x"><signalEventDefinition signalRef="nope"/>'
            "</intermediateCatchEvent>",
            [("x", "Could not find signal with id 'nope'")],
        ),
        (
            '<signal id="S" name="${name}"/>',
            '<intermediateCatchEvent id="x"><signalEventDefinition signalRef="S"/>'
            "</intermediateCatchEvent>",
            [("x", "Signal 'S' used by 'x' has an expression as name (not supported)")],
        ),
        (
            '<signal id="S" name="go"/>',
            '<intermediateThrowEvent id="x"><signalEventDefinition signalRef="S">'
            '<extensionElements><camunda:in variables="all"/></extensionElements>'
            "</signalEventDefinition></intermediateThrowEvent>",
            [("x", "The signal payload (camunda:in) of 'x' is not supported")],
        ),
        (
            "",
            '<intermediateThrowEvent id="x"><messageEventDefinition camunda:type="mail"/>'
            "</intermediateThrowEvent>",
            [("x", "Invalid usage of type attribute on intermediateMessageThrowEvent: 'mail'")],
        ),
        (
            "",
            f'<intermediateThrowEvent id="x"><messageEventDefinition {EXT}/>'
            "</intermediateThrowEvent>"
            '<boundaryEvent id="b" attachedToRef="x"><timerEventDefinition><timeDuration>PT1H'
            "</timeDuration></timerEventDefinition></boundaryEvent>",
            [
                (
                    "b",
                    "Boundary event 'b' is attached to 'x' (a <intermediateThrowEvent>): only "
                    "external tasks, sub-processes and call activities can be",
                )
            ],
        ),
        (
            "",
            f'<endEvent id="x"><messageEventDefinition {EXT}/></endEvent>'
            '<endEvent id="y"/><sequenceFlow id="f" sourceRef="x" targetRef="y"/>',
            [("x", "End event 'x' cannot have outgoing flows")],
        ),
        (
            "",
            '<subProcess id="x" triggeredByEvent="true"><startEvent id="s1"/></subProcess>',
            [
                (
                    "s1",
                    "Start event 's1' of event sub-process 'x' with no event definition is not "
                    "supported: only error, message and timer are",
                )
            ],
        ),
        (
            "",
            '<subProcess id="x" triggeredByEvent="true"><startEvent id="s1" '
            'isInterrupting="false"><errorEventDefinition/></startEvent></subProcess>',
            [("s1", "Error start event of event subprocess must be interrupting.")],
        ),
        (
            "",
            '<subProcess id="x" triggeredByEvent="true"><startEvent id="s1">'
            "<errorEventDefinition/></startEvent></subProcess>"
            '<sequenceFlow id="f" sourceRef="start" targetRef="x"/>',
            [("x", "Invalid incoming sequence flow of event subprocess")],
        ),
        (
            "",
            '<subProcess id="x" triggeredByEvent="true"><startEvent id="s1">'
            "<errorEventDefinition/></startEvent></subProcess>"
            '<boundaryEvent id="b" attachedToRef="x"><errorEventDefinition/></boundaryEvent>',
            [
                (
                    "b",
                    "Boundary event 'b' is attached to 'x' (a <subProcess>): only external "
                    "tasks, sub-processes and call activities can be",
                )
            ],
        ),
    ],
    ids=[
        "duplicate-signal-name",
        "signal-without-id",
        "signal-without-name",
        "unknown-signal",
        "signal-name-expression",
        "signal-payload",
        "message-throw-of-another-type",
        "boundary-on-a-throw-event",
        "message-end-event-with-outgoing-flow",
        "event-sub-process-with-a-none-start",
        "non-interrupting-error-start",
        "flow-into-an-event-sub-process",
        "boundary-on-an-event-sub-process",
    ],
)
def test_refused_with_camundas_words(head: str, body: str, expected: list[tuple[str, str]]) -> None:
    assert problems(document(body, head=head)) == expected


def test_errors_are_caught_by_boundary_events_then_event_sub_processes_outward() -> None:
    body = (
        '<subProcess id="s"><startEvent id="s0"/>'
        f'<sequenceFlow id="f1" sourceRef="s0" targetRef="task"/><serviceTask id="task" {EXT}/>'
        '<boundaryEvent id="on_task" attachedToRef="task"><errorEventDefinition errorRef="A"/>'
        "</boundaryEvent>"
        '<subProcess id="esp" triggeredByEvent="true"><startEvent id="esp_start">'
        "<errorEventDefinition/></startEvent>"
        f'<sequenceFlow id="f2" sourceRef="esp_start" targetRef="in_esp"/>'
        f'<serviceTask id="in_esp" {EXT}/></subProcess>'
        "</subProcess>"
        '<boundaryEvent id="on_s" attachedToRef="s"><errorEventDefinition errorRef="B"/>'
        "</boundaryEvent>"
    )
    [model] = parse_bpmn(document(body), "errors.bpmn")

    def handler(element_id: str, code: str) -> str | None:
        found = model.error_handler(element_id, code)
        return None if found is None else found.id

    assert handler("task", "A") == "on_task"
    # the error event sub-process of the task's scope before the scope's own boundary event
    assert handler("task", "B") == "esp_start"
    # an event sub-process does not catch what is thrown inside it
    assert handler("in_esp", "B") == "on_s"
    assert handler("in_esp", "C") is None
