"""Multi-instance test processes, built from their loop characteristics: start -> ``work`` (an
external task, or a sub-process holding the external task ``step``, both on topic "work") ->
``after`` (topic "after") -> end. Optionally an error boundary ``caught`` on ``work`` (code
"FAIL") leading to ``handled`` (topic "handled"), and conditional flows out of ``work`` instead
of the plain one."""

from __future__ import annotations

from redtask.broker.bpmn import ProcessModel, parse_bpmn

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
  <error id="fail" errorCode="FAIL" />
  <process id="{key}" isExecutable="true">
"""


def loop(
    *,
    sequential: bool = False,
    cardinality: str | None = None,
    collection: str | None = None,
    element: str | None = None,
    condition: str | None = None,
) -> str:
    """A ``multiInstanceLoopCharacteristics`` element."""
    attrs = f' isSequential="{str(sequential).lower()}"'
    attrs += f' camunda:collection="{collection}"' if collection is not None else ""
    attrs += f' camunda:elementVariable="{element}"' if element is not None else ""
    inner = f"<loopCardinality>{cardinality}</loopCardinality>" if cardinality is not None else ""
    if condition is not None:
        inner += f"<completionCondition>{condition}</completionCondition>"
    return f"<multiInstanceLoopCharacteristics{attrs}>{inner}</multiInstanceLoopCharacteristics>"


def mi_xml(
    loop_xml: str,
    *,
    sub_process: bool = False,
    boundary: bool = False,
    exits: tuple[str, ...] = (),
    key: str = "mi",
    io: str = "",
) -> bytes:
    """The process as BPMN; ``exits``: conditions of flows from ``work`` to end events
    ``exit0``, ``exit1``... (instead of the flow to ``after``); ``io``: the
    camunda:inputOutput content of the external task."""
    io_xml = f"<extensionElements><camunda:inputOutput>{io}</camunda:inputOutput>" if io else ""
    io_xml += "</extensionElements>" if io else ""
    task = '<serviceTask id="{id}" camunda:type="external" camunda:topic="work">{body}'
    task += "</serviceTask>"
    if sub_process:
        work = (
            f'<subProcess id="work">{loop_xml}<startEvent id="ws" />'
            '<sequenceFlow id="s1" sourceRef="ws" targetRef="step" />'
            + task.format(id="step", body=io_xml)
            + '<sequenceFlow id="s2" sourceRef="step" targetRef="we" /><endEvent id="we" />'
            "</subProcess>"
        )
    else:
        work = task.format(id="work", body=io_xml + loop_xml)
    parts = [
        HEAD.format(key=key),
        '<startEvent id="start" /><sequenceFlow id="f1" sourceRef="start" targetRef="work" />',
        work,
        '<serviceTask id="after" camunda:type="external" camunda:topic="after" />',
        '<sequenceFlow id="f3" sourceRef="after" targetRef="end" /><endEvent id="end" />',
    ]
    if exits:
        for n, condition in enumerate(exits):
            parts.append(
                f'<sequenceFlow id="x{n}" sourceRef="work" targetRef="exit{n}">'
                f"<conditionExpression>{condition}</conditionExpression></sequenceFlow>"
                f'<endEvent id="exit{n}" />'
            )
    else:
        parts.append('<sequenceFlow id="f2" sourceRef="work" targetRef="after" />')
    if boundary:
        parts.append(
            '<boundaryEvent id="caught" attachedToRef="work">'
            '<errorEventDefinition errorRef="fail" /></boundaryEvent>'
            '<sequenceFlow id="f4" sourceRef="caught" targetRef="handled" />'
            '<serviceTask id="handled" camunda:type="external" camunda:topic="handled" />'
            '<sequenceFlow id="f5" sourceRef="handled" targetRef="end2" /><endEvent id="end2" />'
        )
    parts.append("</process></definitions>")
    return "".join(parts).encode()


def mi_model(loop_xml: str, **options: object) -> ProcessModel:
    [model] = parse_bpmn(mi_xml(loop_xml, **options), "mi.bpmn")  # type: ignore[arg-type]
    return model
