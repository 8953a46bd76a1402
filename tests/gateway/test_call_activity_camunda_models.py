"""Camunda's own call activity test models (engine/src/test/resources/.../bpmn/callactivity/,
Apache-2.0, in tests/gateway/bpmn/camunda_calls/ with their source path) run to the end. The
processes they call use user tasks in Camunda's tests; here stand-ins with the same keys use
external tasks, so a worker drives them."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.gateway.call_helpers import (
    activities,
    chain,
    deploy_xml,
    history_state,
    instances,
    one_task,
    process,
    task,
)
from tests.gateway.constructs_helpers import act, fetch, start, work

MODELS = Path(__file__).resolve().parent / "bpmn" / "camunda_calls"


def _model(name: str) -> bytes:
    return (MODELS / f"{name}.bpmn").read_bytes()


async def _called(client: httpx.AsyncClient, instance_id: str) -> list[str]:
    response = await client.get(
        "/engine-rest/history/process-instance", params={"superProcessInstanceId": instance_id}
    )
    return sorted(i["id"] for i in response.json())


async def test_sub_process_ends_super_process(client: httpx.AsyncClient) -> None:
    await deploy_xml(
        client,
        one_task("simpleSubProcess", "task"),
        _model("CallActivity.testSubProcessEndsSuperProcess"),
    )
    pi = await start(client, "subProcessEndsSuperProcess")
    assert await work(client, ["task"]) == ["t"]
    assert await history_state(client, pi) == "COMPLETED"
    assert await activities(client, pi) == ["theStart", "callSubProcess", "theEnd"]


async def test_two_sub_processes(client: httpx.AsyncClient) -> None:
    await deploy_xml(
        client, one_task("simpleSubProcess", "task"), _model("CallActivity.testTwoSubProcesses")
    )
    pi = await start(client, "callTwoSubProcesses")
    children = await instances(client, superProcessInstance=pi)
    assert len(children) == 2
    assert await work(client, ["task"]) == ["t", "t"]
    assert await history_state(client, pi) == "COMPLETED"
    assert await activities(client, pi) == [
        "theStart", "fork", "callSubProcess", "callSubProcess2", "join", "join", "theEnd"
    ]  # fmt: skip
    assert await _called(client, pi) == children


async def test_call_parallel_sub_process(client: httpx.AsyncClient) -> None:
    body = (
        '<bpmn:startEvent id="theStart" /><bpmn:parallelGateway id="fork" />'
        + task("taskA", "a")
        + task("taskB", "b")
        + '<bpmn:parallelGateway id="join" /><bpmn:endEvent id="theEnd" />'
    )
    flows = chain("theStart", "fork", "taskA", "join", "theEnd") + chain("fork", "taskB", "join")
    parallel = process("simpleParallelSubProcess", body + flows)
    await deploy_xml(client, parallel, _model("CallActivity.testCallParallelSubProcess"))
    pi = await start(client, "callParallelSubProcess")
    assert sorted(await work(client, ["a", "b"])) == ["taskA", "taskB"]
    assert await history_state(client, pi) == "COMPLETED"


async def test_call_process_by_version_as_expression(client: httpx.AsyncClient) -> None:
    await deploy_xml(client, one_task("oneTaskProcess", "first"))
    await deploy_xml(client, one_task("oneTaskProcess", "second"))
    await deploy_xml(
        client, _model("CallActivityAdvancedTest.testCallProcessByVersionAsExpression")
    )
    pi = await start(client, "process", {"myVersion": 1})
    [first] = await fetch(client, ["first", "second"])
    assert first["topicName"] == "first"
    await act(client, first, ("complete", {}, None))
    assert await history_state(client, pi) == "COMPLETED"


async def test_sub_process_call_error_sub_process(client: httpx.AsyncClient) -> None:
    # Camunda's subProcessWithError: a task, then an error end event; nobody catches the error,
    # so it ends the called instance's path and the caller completes with every variable
    body = (
        '<bpmn:startEvent id="StartEvent_1" />'
        + task("UserTask_1", "sub-task")
        + '<bpmn:endEvent id="EndEvent_1"><bpmn:errorEventDefinition errorRef="myError" />'
        "</bpmn:endEvent>"
    )
    error = '<bpmn:error id="myError" errorCode="errorCode" name="businessError" />'
    with_error = process(
        "subProcessWithError", body + chain("StartEvent_1", "UserTask_1", "EndEvent_1"), error
    )
    await deploy_xml(client, with_error, _model("subProcessCallErrorSubProcess"))
    pi = await start(client, "subProcessCallErrorSubProcess")
    [sub_task] = await fetch(client, ["sub-task"])
    await act(client, sub_task, ("complete", {"fromChild": 1}, None))
    assert await history_state(client, pi) == "COMPLETED"
    response = await client.get(
        "/engine-rest/history/variable-instance", params={"processInstanceId": pi}
    )
    assert [(v["name"], v["value"]) for v in response.json()] == [("fromChild", 1)]
    assert await activities(client, pi) == ["StartEvent_1", "CallActivity_1", "EndEvent_1"]
