"""Generated process models with a wide fork and join, for the engine's cost tests."""

from __future__ import annotations

from redtask.broker.bpmn import ProcessModel, parse_bpmn


def wide_bpmn(width: int, gateway: str = "parallelGateway", tasks: bool = False) -> bytes:
    """start -> fork -> ``width`` branches (an external task each, or straight) -> join -> end."""
    parts = [
        '<bpmn:startEvent id="start" />',
        '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="fork" />',
        f'<bpmn:{gateway} id="fork" />',
        f'<bpmn:{gateway} id="join" />',
        '<bpmn:sequenceFlow id="fe" sourceRef="join" targetRef="end" />',
        '<bpmn:endEvent id="end" />',
    ]
    for i in range(width):
        if tasks:
            parts.append(f'<bpmn:sequenceFlow id="a{i}" sourceRef="fork" targetRef="t{i}" />')
            parts.append(
                f'<bpmn:serviceTask id="t{i}" camunda:type="external" camunda:topic="w" />'
            )
            parts.append(f'<bpmn:sequenceFlow id="b{i}" sourceRef="t{i}" targetRef="join" />')
        else:
            parts.append(f'<bpmn:sequenceFlow id="a{i}" sourceRef="fork" targetRef="join" />')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">'
        '<bpmn:process id="wide" isExecutable="true">' + "".join(parts) + "</bpmn:process>"
        "</bpmn:definitions>"
    ).encode()


def wide_model(width: int, gateway: str = "parallelGateway", tasks: bool = False) -> ProcessModel:
    [model] = parse_bpmn(wide_bpmn(width, gateway, tasks), "wide.bpmn")
    return model
