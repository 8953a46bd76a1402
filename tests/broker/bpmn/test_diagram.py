"""The BPMN DI read for drawing: each flow node's kind, name and bounds, each sequence flow's
waypoints, label bounds; only the asked process's elements; hostile XML refused as at deploy."""

from __future__ import annotations

from pathlib import Path

import pytest

from redtask.broker.bpmn import BpmnParseError
from redtask.broker.bpmn.diagram import Bounds, Edge, read_diagram

ROOT = Path(__file__).resolve().parents[3]
FILES = Path(__file__).parent / "files"

TWO_PROCESSES = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
    xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="d" targetNamespace="t">
  <bpmn:process id="one" isExecutable="true">
    <bpmn:startEvent id="s" name="&lt;b&gt;go" />
    <bpmn:sequenceFlow id="f" sourceRef="s" targetRef="sub" />
    <bpmn:subProcess id="sub">
      <bpmn:task id="inner" name="Inner" />
    </bpmn:subProcess>
  </bpmn:process>
  <bpmn:process id="two" isExecutable="true">
    <bpmn:startEvent id="other" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="dia">
    <bpmndi:BPMNPlane id="plane" bpmnElement="one">
      <bpmndi:BPMNShape id="s_di" bpmnElement="s">
        <dc:Bounds x="100" y="80" width="36" height="36" />
        <bpmndi:BPMNLabel><dc:Bounds x="90" y="120" width="60" height="14" /></bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="sub_di" bpmnElement="sub" isExpanded="true">
        <dc:Bounds x="200" y="40" width="300" height="140" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="inner_di" bpmnElement="inner">
        <dc:Bounds x="260" y="70" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="f_di" bpmnElement="f">
        <di:waypoint x="136" y="98" /><di:waypoint x="168" y="98" /><di:waypoint x="200" y="110" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNShape id="other_di" bpmnElement="other">
        <dc:Bounds x="1000" y="1000" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="ghost_di" bpmnElement="nowhere">
        <dc:Bounds x="-500" y="-500" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>"""


def test_shapes_edges_and_labels_of_the_asked_process_only() -> None:
    diagram = read_diagram(TWO_PROCESSES, "one")

    assert [(s.element_id, s.kind, s.name) for s in diagram.shapes] == [
        ("sub", "subprocess", None),  # containers first: drawn under what they hold
        ("s", "start", "<b>go"),
        ("inner", "task", "Inner"),
    ]
    assert diagram.shapes[1].bounds == Bounds(100, 80, 36, 36)
    assert diagram.shapes[1].label == Bounds(90, 120, 60, 14)
    assert diagram.edges == (Edge("f", None, ((136, 98), (168, 98), (200, 110))),)
    assert (diagram.min_x, diagram.min_y) == (90, 40)
    assert (diagram.width, diagram.height) == (410, 140 + 20)


def test_the_order_example_has_every_kind_of_shape() -> None:
    diagram = read_diagram((ROOT / "examples" / "order.bpmn").read_bytes(), "order")

    kinds = {s.element_id: (s.kind, s.marker) for s in diagram.shapes}
    assert kinds == {
        "order_received": ("start", ""),
        "reserve_stock": ("task", ""),
        "express_choice": ("gateway", "x"),
        "ship_express": ("task", ""),
        "ship_standard": ("task", ""),
        "order_shipped": ("end", ""),
        "out_of_stock": ("boundary", ""),
        "order_rejected": ("end", ""),
    }
    assert len(diagram.edges) == 7
    assert {e.name for e in diagram.edges} == {None, "yes", "no"}


def test_a_resource_without_di_or_without_the_process_gives_an_empty_diagram() -> None:
    for data, key in (
        (TWO_PROCESSES, "missing"),
        ((FILES / "sub_process.bpmn").read_bytes(), "shipping"),
    ):
        diagram = read_diagram(data, key)
        assert (diagram.shapes, diagram.edges, diagram.width) == ((), (), 0.0)


@pytest.mark.parametrize("name", ["xxe.bpmn", "billion_laughs.bpmn"])
def test_hostile_xml_is_refused(name: str) -> None:
    with pytest.raises(BpmnParseError):
        read_diagram((FILES / name).read_bytes(), "p")
