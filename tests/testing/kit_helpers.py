"""What the tests of the test kit share (tests/testing/test_kit*.py): the order example, a
deployment of two processes, the fixtures' callable types, and the handlers the runner runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from redtask import BpmnError, Complete, ExternalTask, Router, TaskFailure, Typed
from redtask.testing import ProcessInstance, TestWorker

ORDER = Path(__file__).resolve().parents[2] / "examples" / "order.bpmn"
MakeWorker = Callable[..., TestWorker]
StartProcess = Callable[..., Awaitable[ProcessInstance]]

TWO_PROCESSES = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  id="defs" targetNamespace="https://example.org/test">
  <bpmn:process id="one" isExecutable="true"><bpmn:startEvent id="s1" /></bpmn:process>
  <bpmn:process id="two" isExecutable="true"><bpmn:startEvent id="s2" /></bpmn:process>
</bpmn:definitions>
"""


# the handlers the worker runner runs in the tests
handlers = Router(retries=1)
seen: list[dict[str, object]] = []


@handlers.task("needs-x")
def needs_x(x: int) -> None:
    seen.append({"x": x})


@handlers.task("wrong-result")
def wrong_result() -> int:
    return 42


@handlers.task("typed")
async def typed(task: ExternalTask, n: int) -> Complete:
    return Complete(variables={"big": Typed("Long", n)}, local_variables={"by": task.worker_id})


@handlers.task("refuse")
def refuse(code: str) -> None:
    raise BpmnError(code, "refused", {"why": "test"})


@handlers.task("give-up")
def give_up() -> None:
    raise TaskFailure("no way", "details", retries=0)
