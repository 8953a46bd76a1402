"""One construct, one problem: each unsupported or invalid construct is refused with a problem
naming its element, in Camunda's words."""

from __future__ import annotations

import pytest

from tests.broker.bpmn.problem_helpers import document, problems

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
