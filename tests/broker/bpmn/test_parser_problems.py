"""Unsupported constructs and broken references are refused with problems naming the element."""

from __future__ import annotations

from pathlib import Path

import pytest

from redtask.broker.bpmn import BpmnParseError, Problem, parse_bpmn
from redtask.broker.errors import InvalidArgument

FILES = Path(__file__).parent / "files"
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


EXT = 'camunda:type="external" camunda:topic="t"'
ONE_PROBLEM = {
    "manual task": (
        '<manualTask id="x"/>',
        "Element 'x' is a <manualTask>, which is not supported",
    ),
    "abstract task": ('<task id="x"/>', "Element 'x' is a <task>, which is not supported"),
    "transaction": (
        '<transaction id="x"/>',
        "Element 'x' is a <transaction>, which is not supported",
    ),
    "ad-hoc sub-process": (
        '<adHocSubProcess id="x"/>',
        "Element 'x' is a <adHocSubProcess>, which is not supported",
    ),
    "delegate expression": (
        '<serviceTask id="x" camunda:delegateExpression="${bean}"/>',
        "serviceTask 'x' is not supported: only camunda:type=\"external\" is",
    ),
    "DMN business rule task": (
        '<businessRuleTask id="x" camunda:decisionRef="d"/>',
        "businessRuleTask 'x' is not supported: only camunda:type=\"external\" is",
    ),
    "send task without type": (
        '<sendTask id="x"/>',
        "sendTask 'x' is not supported: only camunda:type=\"external\" is",
    ),
    "connector type": (
        '<serviceTask id="x" camunda:type="connector"/>',
        "serviceTask 'x' is not supported: only camunda:type=\"external\" is",
    ),
    "standard loop": (
        f'<serviceTask id="x" {EXT}><standardLoopCharacteristics/></serviceTask>',
        "'x' has a <standardLoopCharacteristics>, which is not supported",
    ),
    "standard loop sub-process": (
        '<subProcess id="x"><standardLoopCharacteristics/><startEvent id="s2"/></subProcess>',
        "'x' has a <standardLoopCharacteristics>: standard loops are not supported",
    ),
    "multi-instance without a count": (
        '<subProcess id="x"><multiInstanceLoopCharacteristics/><startEvent id="s2"/></subProcess>',
        "Either loopCardinality or loopDataInputRef/activiti:collection must be set",
    ),
    "multi-instance element variable without a collection": (
        f'<serviceTask id="x" {EXT}><multiInstanceLoopCharacteristics camunda:elementVariable="e">'
        "<loopCardinality>2</loopCardinality></multiInstanceLoopCharacteristics></serviceTask>",
        "LoopDataInputRef/activiti:collection must be set when using inputDataItem or "
        "activiti:elementVariable",
    ),
    "multi-instance empty cardinality": (
        f'<serviceTask id="x" {EXT}><multiInstanceLoopCharacteristics>'
        "<loopCardinality> </loopCardinality></multiInstanceLoopCharacteristics></serviceTask>",
        "loopCardinality must be defined for a multiInstanceLoopCharacteristics definition ",
    ),
    "multi-instance on a gateway": (
        '<exclusiveGateway id="x"><multiInstanceLoopCharacteristics/></exclusiveGateway>',
        "'x' has a <multiInstanceLoopCharacteristics>, which is not supported",
    ),
    "conditional start event": (
        '<startEvent id="x"><conditionalEventDefinition/></startEvent>',
        "Start event 'x' with conditionalEventDefinition is not supported on a process",
    ),
    "timer start event of a sub-process": (
        '<subProcess id="sub"><startEvent id="x"><timerEventDefinition><timeDuration>PT1M'
        "</timeDuration></timerEventDefinition></startEvent></subProcess>",
        "Start event 'x' with timerEventDefinition is not supported on a sub-process",
    ),
    "signal end event without a signal": (
        '<endEvent id="x"><signalEventDefinition/></endEvent>',
        "signalEventDefinition does not have required property 'signalRef'",
    ),
    "message end event with a Java class": (
        '<endEvent id="x"><messageEventDefinition camunda:class="a.B"/></endEvent>',
        "messageEndEvent 'x' with a Java class or expression is not supported: only "
        'camunda:type="external" is',
    ),
    "message boundary event without a message": (
        f'<serviceTask id="t" {EXT}/>'
        '<boundaryEvent id="x" attachedToRef="t"><messageEventDefinition/></boundaryEvent>',
        "attribute 'messageRef' is required",
    ),
    "conditional catch event": (
        '<intermediateCatchEvent id="x"><conditionalEventDefinition/></intermediateCatchEvent>',
        "Intermediate catch event 'x' with conditionalEventDefinition is not supported: "
        "only timer, message and signal are",
    ),
    "catch event without definition": (
        '<intermediateCatchEvent id="x"/>',
        "Intermediate catch event 'x' with no single event definition is not supported: "
        "only timer, message and signal are",
    ),
    "timer cycle too short": (
        f'<serviceTask id="t" {EXT}/>'
        '<boundaryEvent id="x" attachedToRef="t" cancelActivity="false">'
        "<timerEventDefinition><timeCycle>R/PT0.1S</timeCycle></timerEventDefinition></boundaryEvent>",
        "Invalid timeCycle of 'x': Repeating interval 'R/PT0.1S' is shorter than the shortest "
        "cycle supported (1000 ms)",
    ),
    "timer without value": (
        '<intermediateCatchEvent id="x"><timerEventDefinition/></intermediateCatchEvent>',
        "Timer needs configuration (either timeDate, timeCycle or timeDuration is needed).",
    ),
    "invalid duration": (
        '<intermediateCatchEvent id="x"><timerEventDefinition><timeDuration>tomorrow'
        "</timeDuration></timerEventDefinition></intermediateCatchEvent>",
        "Invalid timeDuration of 'x': Invalid ISO-8601 duration 'tomorrow'",
    ),
    "invalid date": (
        '<intermediateCatchEvent id="x"><timerEventDefinition><timeDate>2030-13-01T00:00:00Z'
        "</timeDate></timerEventDefinition></intermediateCatchEvent>",
        "Invalid timeDate of 'x': Invalid ISO-8601 date '2030-13-01T00:00:00Z'",
    ),
    "broken timer expression": (
        '<intermediateCatchEvent id="x"><timerEventDefinition><timeDuration>${a +}'
        "</timeDuration></timerEventDefinition></intermediateCatchEvent>",
        "Invalid timeDuration of 'x': Error parsing '${a +}': unexpected '}' at position 5",
    ),
    "execution listener on a task": (
        f'<serviceTask id="x" {EXT}><extensionElements>'
        '<camunda:executionListener event="end" expression="${a}"/>'
        "</extensionElements></serviceTask>",
        "camunda:executionListener on 'x' is not supported",
    ),
    "input mapping on a gateway": (
        '<exclusiveGateway id="x"><extensionElements><camunda:inputOutput/></extensionElements>'
        "</exclusiveGateway>",
        "camunda:inputOutput mapping unsupported for element type 'exclusiveGateway'.",
    ),
    "input mapping on a boundary event": (
        '<boundaryEvent id="x" attachedToRef="t"><extensionElements><camunda:inputOutput/>'
        "</extensionElements><errorEventDefinition/></boundaryEvent>"
        f'<serviceTask id="t" {EXT}/>',
        "camunda:inputOutput mapping unsupported for element type 'boundaryEvent'.",
    ),
    "output mapping on an end event": (
        '<endEvent id="x"><extensionElements><camunda:inputOutput>'
        '<camunda:outputParameter name="o">1</camunda:outputParameter>'
        "</camunda:inputOutput></extensionElements></endEvent>",
        "camunda:outputParameter not allowed for element type 'endEvent'.",
    ),
    "nested list parameter": (
        f'<serviceTask id="x" {EXT}><extensionElements><camunda:inputOutput>'
        '<camunda:inputParameter name="l"><camunda:list><camunda:value>1</camunda:value>'
        "</camunda:list></camunda:inputParameter></camunda:inputOutput></extensionElements>"
        "</serviceTask>",
        "camunda:inputParameter 'l' of 'x' uses <camunda:list>, which is not supported: "
        "use text or an ${...} expression",
    ),
    "script output parameter": (
        f'<serviceTask id="x" {EXT}><extensionElements><camunda:inputOutput>'
        '<camunda:outputParameter name="o"><camunda:script scriptFormat="groovy">1'
        "</camunda:script></camunda:outputParameter></camunda:inputOutput></extensionElements>"
        "</serviceTask>",
        "camunda:outputParameter 'o' of 'x' uses <camunda:script>, which is not supported: "
        "use text or an ${...} expression",
    ),
    "parameter without name": (
        f'<serviceTask id="x" {EXT}><extensionElements><camunda:inputOutput>'
        "<camunda:inputParameter>1</camunda:inputParameter></camunda:inputOutput>"
        "</extensionElements></serviceTask>",
        "A camunda:inputParameter of 'x' has no name",
    ),
    "broken parameter expression": (
        f'<serviceTask id="x" {EXT}><extensionElements><camunda:inputOutput>'
        '<camunda:inputParameter name="a">${(}</camunda:inputParameter></camunda:inputOutput>'
        "</extensionElements></serviceTask>",
        "Invalid camunda:inputParameter 'a' on 'x': Error parsing '${(}': "
        "unexpected '}' at position 3",
    ),
    "empty topic": (
        '<serviceTask id="x" camunda:type="external" camunda:topic=""/>',
        "External tasks must specify a 'topic' attribute in the camunda namespace",
    ),
    "broken topic expression": (
        '<serviceTask id="x" camunda:type="external" camunda:topic="${a b}"/>',
        "Invalid camunda:topic on 'x': Error parsing '${a b}': expected '}' but found 'b' "
        "at position 4",
    ),
    "priority beyond 32 bits": (
        f'<serviceTask id="x" {EXT} camunda:taskPriority="2147483648"/>',
        "Value '2147483648' for attribute 'taskPriority' is not a valid number",
    ),
    "decimal priority": (
        f'<serviceTask id="x" {EXT} camunda:taskPriority="1.5"/>',
        "Value '1.5' for attribute 'taskPriority' is not a valid number",
    ),
    "error definition expression that is not one": (
        f'<serviceTask id="x" {EXT}><extensionElements>'
        '<camunda:errorEventDefinition errorRef="E" expression="true"/>'
        "</extensionElements></serviceTask>",
        "The camunda:errorEventDefinition expression of 'x' must be ${...}",
    ),
    "default flow on an activity": (
        f'<serviceTask id="x" {EXT} default="f"/><endEvent id="e"/>'
        '<sequenceFlow id="f" sourceRef="x" targetRef="e"/>',
        "A default flow on activity 'x' is not supported (only on gateways)",
    ),
    "error end event without errorRef": (
        '<endEvent id="x"><errorEventDefinition/></endEvent>',
        "'errorRef' attribute is mandatory on error end event",
    ),
    "error end event throwing an error without code": (
        '<endEvent id="x"><errorEventDefinition errorRef="E"/></endEvent>',
        "'errorCode' is mandatory on errors referenced by throwing error event definitions, "
        "but the error 'E' does not define one.",
    ),
    "message without name": (
        '<receiveTask id="x" messageRef="M_nameless"/>',
        "Cannot have a message event subscription with an empty or missing name",
    ),
    "message name expression": (
        '<receiveTask id="x" messageRef="M_expr"/>',
        "Message 'M_expr' used by 'x' has an expression as name (not supported)",
    ),
    "boundary event without attachedToRef": (
        '<boundaryEvent id="x"><errorEventDefinition/></boundaryEvent>',
        "AttachedToRef is required when using a timerEventDefinition",
    ),
    "boundary event on an unsupported element": (
        '<boundaryEvent id="x" attachedToRef="start"><errorEventDefinition/></boundaryEvent>',
        "Boundary event 'x' is attached to 'start' (a <startEvent>): "
        "only external tasks, sub-processes and call activities can be",
    ),
    "boundary event in another scope": (
        f'<subProcess id="sub"><startEvent id="s2"/><serviceTask id="inner" {EXT}/></subProcess>'
        '<boundaryEvent id="x" attachedToRef="inner"><errorEventDefinition/></boundaryEvent>',
        "Invalid reference in boundary event. Make sure that the referenced activity is "
        "defined in the same scope as the boundary event",
    ),
    "flow into a start event": (
        '<endEvent id="e"/><sequenceFlow id="f" sourceRef="start" targetRef="start"/>',
        "'start' is a start or boundary event and cannot have incoming flows",
    ),
    "flow out of an end event": (
        '<endEvent id="x"/><sequenceFlow id="f" sourceRef="x" targetRef="x2"/><endEvent id="x2"/>',
        "End event 'x' cannot have outgoing flows",
    ),
    "flow without target": (
        '<sequenceFlow id="x" sourceRef="start"/>',
        "Invalid destination 'null' of sequence flow 'x'",
    ),
    "empty condition": (
        '<endEvent id="e"/><sequenceFlow id="x" sourceRef="start" targetRef="e">'
        "<conditionExpression> </conditionExpression></sequenceFlow>",
        "Condition of sequence flow 'x' must be an expression ${...}, not ''",
    ),
    "external resource condition": (
        '<endEvent id="e"/><sequenceFlow id="x" sourceRef="start" targetRef="e">'
        '<conditionExpression camunda:resource="deployment://c.js"/></sequenceFlow>',
        "Condition of sequence flow 'x' is a script: only ${...} is supported",
    ),
    "duplicate id": ('<endEvent id="start"/>', "Duplicate id 'start'"),
}
HEAD = (
    '<error id="E" name="no code"/><message id="M_nameless"/><message id="M_expr" name="${name}"/>'
)


@pytest.mark.parametrize("body, message", ONE_PROBLEM.values(), ids=ONE_PROBLEM.keys())
def test_one_construct_one_problem_naming_the_element(body: str, message: str) -> None:
    found = problems(document(body, head=HEAD))
    element_id = "start" if message.startswith(("'start'", "Duplicate")) else "x"
    if message.startswith(("Either loopCardinality", "LoopDataInputRef", "loopCardinality")):
        element_id = "x#multiInstanceBody"  # Camunda names the multi-instance body
    assert found == [(None if "no id" in message else element_id, message)]


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
