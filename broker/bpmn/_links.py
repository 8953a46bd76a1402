"""Link events (BpmnParse#parseIntermediateThrowEvent and #parseIntermediateLinkEventCatchBehavior).

A throwing link event is no activity: a sequence flow into it goes to the catching link event of
the same name in the same scope instead. The catching one is an activity that moves on at once
and, as in Camunda (HistoryParseListener), writes no history. Problems, each naming the
element: two catching events of one name in a scope, a throwing event whose name no catching
event of its scope has, a flow leaving a throwing event, a link without a name.
"""

from __future__ import annotations

from redtask.broker.bpmn._context import ParseContext
from redtask.broker.bpmn._xml import XmlElement, attr, bpmn_children
from redtask.broker.bpmn.model import LinkCatchEvent


def link_definition(element: XmlElement) -> XmlElement | None:
    """The linkEventDefinition of an intermediate event, if it has one."""
    return next(bpmn_children(element, "linkEventDefinition"), None)


class Links:
    """The link events of one process, collected while its scopes are parsed."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.catches: dict[tuple[str | None, str], str] = {}  # (scope, name) -> catch id
        self.throws: dict[str, tuple[str | None, str, XmlElement]] = {}  # id -> scope, name

    def element(
        self, kind: str, element: XmlElement, eid: str, scope: str | None, definition: XmlElement
    ) -> LinkCatchEvent | None:
        """A catching link event's node; None for a throwing one (or after a problem)."""
        name = attr(definition, "name")
        self.ctx.check_extensions(element, eid, io_allowed=False)
        if not name:
            self.ctx.problem(f"The link event definition of '{eid}' has no name", element, eid)
            return None
        if kind == "intermediateThrowEvent":
            self.throws[eid] = (scope, name, element)
            return None
        if (scope, name) in self.catches:
            message = (
                f"Multiple Intermediate Catch Events with the same link event name ('{name}') "
                "are not allowed."
            )
            self.ctx.problem(message, element, eid)
            return None
        self.catches[(scope, name)] = eid
        return LinkCatchEvent(id=eid, name=attr(element, "name"), scope_id=scope, link=name)

    def target(self, ref: str) -> str:
        """Where a flow into ``ref`` goes: the catching event of a throwing one's link."""
        thrown = self.throws.get(ref)
        if thrown is None:
            return ref
        return self.catches.get(thrown[:2], ref)

    def check(self, sources: set[str]) -> None:
        """Report every throwing event without a catching one, or with flows leaving it
        (``sources``: the source of every sequence flow)."""
        for eid, (scope, name, element) in self.throws.items():
            if (scope, name) not in self.catches:
                message = (
                    f"sequence flow points to link event source with name '{name}' but no event "
                    "target with that name exists. Most probably your link events are not "
                    "configured correctly."
                )
                self.ctx.problem(message, element, eid)
            if eid in sources:
                message = f"Link event '{eid}' throws: no sequence flow can leave it"
                self.ctx.problem(message, element, eid)
