"""The BPMN diagram interchange (BPMN DI) of a process: the shapes and edges a modeler laid out,
read from a resource with the hardened loader, for drawing (the dashboard renders it as SVG).

Only what a drawing needs is kept: each flow node's kind, name and bounds; each sequence flow's
waypoints and name; label bounds where the modeler placed one. Elements of other processes of
the same resource, and shapes without a BPMN element, are left out. Coordinates are floats as
the file gives them; the drawing's extent is ``Diagram.width`` / ``height`` (plus a margin).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redtask.broker.bpmn._xml import BPMN_NS, XmlElement, load, local, split
from redtask.broker.bpmn.parser import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH

DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_POINT_NS = "http://www.omg.org/spec/DD/20100524/DI"

_EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent"}
_GATEWAYS = {
    "exclusiveGateway": "x",
    "parallelGateway": "+",
    "inclusiveGateway": "o",
    "eventBasedGateway": "e",
    "complexGateway": "*",
}
_TASKS = {
    "task",
    "serviceTask",
    "sendTask",
    "receiveTask",
    "userTask",
    "manualTask",
    "businessRuleTask",
    "scriptTask",
    "callActivity",
}
_SUB_PROCESSES = {"subProcess", "transaction", "adHocSubProcess"}


@dataclass(frozen=True, slots=True)
class Bounds:
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Shape:
    """``kind``: start, end, intermediate, boundary (events), gateway, task, subprocess;
    ``marker``: a gateway's symbol (x, +, o, e, *)."""

    element_id: str
    element_type: str
    kind: str
    name: str | None
    bounds: Bounds
    label: Bounds | None = None
    marker: str = ""


@dataclass(frozen=True, slots=True)
class Edge:
    element_id: str
    name: str | None
    points: tuple[tuple[float, float], ...]
    label: Bounds | None = None


@dataclass(frozen=True, slots=True)
class Diagram:
    shapes: tuple[Shape, ...]
    edges: tuple[Edge, ...]
    width: float
    height: float
    min_x: float = 0.0
    min_y: float = 0.0


def _clark(namespace: str, name: str) -> str:
    """An element name in lxml's Clark notation, ``{namespace}name``."""
    return "{" + namespace + "}" + name


def _number(value: str | None) -> float:
    try:
        number = float(value or "0")
    except ValueError:
        return 0.0
    return number if math.isfinite(number) else 0.0


def _bounds(element: XmlElement | None) -> Bounds | None:
    if element is None:
        return None
    return Bounds(
        _number(element.get("x")),
        _number(element.get("y")),
        max(_number(element.get("width")), 0.0),
        max(_number(element.get("height")), 0.0),
    )


def _child(element: XmlElement, namespace: str, name: str) -> XmlElement | None:
    return next((c for c in element if split(c) == (namespace, name)), None)


def _label(element: XmlElement) -> Bounds | None:
    label = _child(element, DI_NS, "BPMNLabel")
    return None if label is None else _bounds(_child(label, DC_NS, "Bounds"))


def _flow_elements(process: XmlElement) -> dict[str, XmlElement]:
    """Every BPMN element with an id inside ``process``, sub-processes included."""
    found: dict[str, XmlElement] = {}
    stack = [process]
    while stack:
        for child in stack.pop():
            if not local(child):
                continue
            element_id = child.get("id")
            if element_id:
                found[element_id] = child
            if local(child) in _SUB_PROCESSES:
                stack.append(child)
    return found


def _kind(name: str) -> tuple[str, str]:
    if name in _EVENTS:
        return {"startEvent": "start", "endEvent": "end"}.get(name, "intermediate"), ""
    if name == "boundaryEvent":
        return "boundary", ""
    if name in _GATEWAYS:
        return "gateway", _GATEWAYS[name]
    if name in _SUB_PROCESSES:
        return "subprocess", ""
    if name in _TASKS:
        return "task", ""
    return "other", ""


_UNDER = ("start", "end", "intermediate", "boundary", "gateway")
CHAR_WIDTH = 6.5
"""The width of a label's character (12 px sans-serif, on average), to leave room for it."""


def _label_under(shape: Shape) -> Bounds:
    b = shape.bounds
    width = len(shape.name or "") * CHAR_WIDTH
    return Bounds(b.x + b.width / 2 - width / 2, b.y + b.height, width, 18.0)


def read_diagram(data: bytes, process_key: str, resource_name: str = "diagram") -> Diagram:
    """The diagram of process ``process_key`` in a BPMN resource; an empty one when the file has
    no DI for it. Raises BpmnParseError for XML the hardened loader refuses."""
    root = load(data, resource_name, max_bytes=DEFAULT_MAX_BYTES, max_depth=DEFAULT_MAX_DEPTH)
    process = next(
        (c for c in root if split(c) == (BPMN_NS, "process") and c.get("id") == process_key),
        None,
    )
    if process is None:
        return Diagram((), (), 0.0, 0.0)
    elements = _flow_elements(process)
    shapes: list[Shape] = []
    edges: list[Edge] = []
    for item in root.iter(_clark(DI_NS, "BPMNShape"), _clark(DI_NS, "BPMNEdge")):
        element = elements.get(item.get("bpmnElement") or "")
        if element is None:
            continue
        name = element.get("name")
        if split(item)[1] == "BPMNShape":
            bounds = _bounds(_child(item, DC_NS, "Bounds"))
            if bounds is None:
                continue
            kind, marker = _kind(local(element))
            shapes.append(
                Shape(element.get("id"), local(element), kind, name, bounds, _label(item), marker)
            )
        elif local(element) == "sequenceFlow":
            points = tuple(
                (_number(p.get("x")), _number(p.get("y")))
                for p in item
                if split(p) == (DI_POINT_NS, "waypoint")
            )
            if len(points) >= 2:
                edges.append(Edge(element.get("id"), name, points, _label(item)))
    # sub-processes first, so the shapes inside them are drawn on top
    shapes.sort(key=lambda s: s.kind != "subprocess")
    xs = [s.bounds.x for s in shapes] + [x for e in edges for x, _ in e.points]
    ys = [s.bounds.y for s in shapes] + [y for e in edges for _, y in e.points]
    right = [s.bounds.x + s.bounds.width for s in shapes] + xs
    bottom = [s.bounds.y + s.bounds.height for s in shapes] + ys
    labels = [s.label for s in shapes if s.label] + [e.label for e in edges if e.label]
    # a name without label bounds is written centred under its event or gateway
    labels += [_label_under(s) for s in shapes if s.name and not s.label and s.kind in _UNDER]
    xs += [b.x for b in labels]
    right += [b.x + b.width for b in labels]
    bottom += [b.y + b.height for b in labels]
    if not xs:
        return Diagram((), (), 0.0, 0.0)
    min_x, min_y = min(xs), min(ys)
    return Diagram(
        tuple(shapes),
        tuple(edges),
        max(right) - min_x,
        max(bottom) - min_y + 20.0,  # room for the labels under events and gateways
        min_x,
        min_y,
    )
