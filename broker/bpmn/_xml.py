"""Hardened XML loading for BPMN resources, and small helpers over lxml elements.

A deployment is untrusted input, so: a size limit before anything is parsed, any DOCTYPE refused
outright (it is the vehicle of XXE and entity-expansion "billion laughs" attacks) both by a byte
scan before parsing and by the parsed document's docinfo after, an lxml parser that resolves no
entities, loads no DTD and touches no network, libxml2's own limits left on (huge_tree=False),
and a nesting-depth limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from redtask.broker.bpmn.model import BpmnParseError, Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = ("http://camunda.org/schema/1.0/bpmn", "http://activiti.org/bpmn")
XmlElement = Any  # lxml ships no type information

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_DEPTH = 100
_CAMUNDA_PREFIXES = tuple("{" + namespace + "}" for namespace in CAMUNDA_NS)  # Clark notation
_LOCATION = re.compile(r", line \d+, column \d+$")
_DTD_MARKERS = tuple(
    marker.encode(encoding)
    for marker in ("<!DOCTYPE", "<!ENTITY")
    for encoding in ("ascii", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
)


def _refuse(resource_name: str, message: str, line: int = 0, column: int = 0) -> BpmnParseError:
    return BpmnParseError(resource_name, [Problem(message, line, column)])


def mentions_dtd(data: bytes) -> bool:
    """True if the bytes contain a DOCTYPE or ENTITY declaration in any common encoding."""
    return any(marker in data for marker in _DTD_MARKERS)


def load(data: bytes, resource_name: str, *, max_bytes: int, max_depth: int) -> XmlElement:
    """Parse ``data`` safely and return the root element.

    Raises BpmnParseError for a resource over ``max_bytes``, any DOCTYPE, malformed XML, or
    elements nested deeper than ``max_depth``.
    """
    if len(data) > max_bytes:
        raise _refuse(
            resource_name,
            f"The resource is {len(data)} bytes long, more than the limit of {max_bytes} bytes",
        )
    dtd_refused = "DOCTYPE declarations are not allowed in BPMN resources"
    if mentions_dtd(data):
        raise _refuse(resource_name, dtd_refused)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        message = _LOCATION.sub("", str(exc.msg))
        raise _refuse(resource_name, f"Malformed XML: {message}", line or 0, column or 0) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _refuse(resource_name, dtd_refused)
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > max_depth:
            message = f"XML elements are nested more than {max_depth} levels deep"
            raise _refuse(resource_name, message, element.sourceline or 0)
        stack.extend((child, depth + 1) for child in element)
    return root


def split(element: XmlElement) -> tuple[str, str]:
    """(namespace, local name) of an element; ("", "") for anything that is not an element."""
    tag = element.tag
    if not isinstance(tag, str):
        return "", ""
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def local(element: XmlElement) -> str:
    """The local name of a BPMN-namespace element, "" for any other element."""
    namespace, name = split(element)
    return name if namespace == BPMN_NS else ""


def bpmn_children(element: XmlElement, *names: str) -> Iterator[XmlElement]:
    """Direct BPMN children, all or only those with one of ``names``."""
    for child in element:
        name = local(child)
        if name and (not names or name in names):
            yield child


def camunda_children(element: XmlElement, name: str) -> Iterator[XmlElement]:
    """Direct children named ``name`` in the camunda namespace."""
    for child in element:
        namespace, child_name = split(child)
        if namespace in CAMUNDA_NS and child_name == name:
            yield child


def extensions(element: XmlElement, name: str) -> Iterator[XmlElement]:
    """The camunda ``name`` elements inside the element's ``extensionElements``."""
    for container in bpmn_children(element, "extensionElements"):
        yield from camunda_children(container, name)


def camunda_attr(element: XmlElement, name: str) -> str | None:
    """A camunda-namespace attribute (the legacy activiti namespace is accepted too)."""
    for prefix in _CAMUNDA_PREFIXES:
        value = element.get(prefix + name)
        if value is not None:
            return str(value)
    return None


def attr(element: XmlElement, name: str) -> str | None:
    value = element.get(name)
    return None if value is None else str(value)


def text(element: XmlElement) -> str:
    """The element's text content (including text inside any children), stripped."""
    return "".join(element.itertext()).strip()


def line(element: XmlElement) -> int:
    return int(element.sourceline or 0)
