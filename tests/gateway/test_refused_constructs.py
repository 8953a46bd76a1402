"""The BPMN constructs redtask does not run are refused at deployment with a 400 ParseException
naming the element (the README's list): nothing half-runs a model it cannot execute."""

from __future__ import annotations

import httpx
import pytest

from tests.gateway.constructs_helpers import API

HEAD = """<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
  <escalation id="esc" escalationCode="E" />
  <process id="p" isExecutable="true">
    <startEvent id="s" /><sequenceFlow id="f1" sourceRef="s" targetRef="x" />
    {element}
    <sequenceFlow id="f2" sourceRef="x" targetRef="e" /><endEvent id="e" />
  </process>
</definitions>"""

EXTERNAL = '<serviceTask id="x" camunda:type="external" camunda:topic="t">{}</serviceTask>'
REFUSED = {
    "user task": '<userTask id="x" />',
    "script task": '<scriptTask id="x" scriptFormat="groovy"><script>1</script></scriptTask>',
    "script I/O mapping": EXTERNAL.format(
        "<extensionElements><camunda:inputOutput><camunda:inputParameter name='a'>"
        "<camunda:script scriptFormat='groovy'>1</camunda:script></camunda:inputParameter>"
        "</camunda:inputOutput></extensionElements>"
    ),
    "Java class": '<serviceTask id="x" camunda:class="org.example.Charge" />',
    "delegate expression": '<serviceTask id="x" camunda:delegateExpression="${charge}" />',
    "expression": '<serviceTask id="x" camunda:expression="${charge.run()}" />',
    "connector": (
        '<serviceTask id="x"><extensionElements><camunda:connector>'
        "<camunda:connectorId>http-connector</camunda:connectorId>"
        "</camunda:connector></extensionElements></serviceTask>"
    ),
    "DMN business rule task": '<businessRuleTask id="x" camunda:decisionRef="d" />',
    "compensation": (
        '<intermediateThrowEvent id="x"><compensateEventDefinition /></intermediateThrowEvent>'
    ),
    "transaction": (
        '<transaction id="x"><startEvent id="ts" />'
        '<sequenceFlow id="t1" sourceRef="ts" targetRef="te" /><endEvent id="te" /></transaction>'
    ),
    "conditional event": (
        '<intermediateCatchEvent id="x"><conditionalEventDefinition>'
        "<condition>${ready}</condition></conditionalEventDefinition></intermediateCatchEvent>"
    ),
    "complex gateway": '<complexGateway id="x" />',
    "escalation event": (
        '<intermediateThrowEvent id="x"><escalationEventDefinition escalationRef="esc" />'
        "</intermediateThrowEvent>"
    ),
}


@pytest.mark.parametrize("construct", list(REFUSED))
async def test_the_construct_is_refused_naming_the_element(
    client: httpx.AsyncClient, construct: str
) -> None:
    xml = HEAD.format(element=REFUSED[construct]).encode()
    response = await client.post(
        f"{API}/deployment/create",
        data={"deployment-name": "refused"},
        files={"data": ("refused.bpmn", xml, "application/xml")},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == "ParseException"
    errors = body["details"]["refused.bpmn"]["errors"]
    assert any(e["mainElementId"] == "x" and "'x'" in e["message"] for e in errors), errors
    listed = await client.get(f"{API}/process-definition", params={"key": "p"})
    assert listed.json() == []  # nothing deployed
