"""Why a BPMN resource was refused: Camunda's ParseException and its problems."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redtask.broker.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a BPMN resource was refused, shaped like Camunda's ParseException problem
    (``message, line, column, mainBpmnElementId, bpmnElementIds``). ``line`` and ``column`` are
    0 when unknown; lxml records no column for elements, so only XML syntax errors have one."""

    message: str
    line: int = 0
    column: int = 0
    element_id: str | None = None
    element_ids: tuple[str, ...] = ()


class BpmnParseError(InvalidArgument):
    """A BPMN resource is malformed, hostile or uses unsupported constructs; ``problems`` lists
    every problem found (Camunda's ParseException, answered with 400)."""

    def __init__(self, resource_name: str, problems: Sequence[Problem]) -> None:
        self.resource_name = resource_name
        self.problems = tuple(problems)
        lines = []
        for problem in self.problems:
            where = f" | resource {resource_name}"
            where += f" | line {problem.line}" if problem.line else ""
            where += f" | column {problem.column}" if problem.column else ""
            lines.append(f"\n* {problem.message}{where}")
        super().__init__("ENGINE-09005 Could not parse BPMN process. Errors: " + "".join(lines))
