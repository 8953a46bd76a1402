"""Multi-instance call activities through the REST API: one called instance per instance
(parallel: all at once, sequential: one after another), each with its own in mappings, the
counters on the body, a completion condition cancelling the called instances left, and an error
a called instance throws caught on the activity."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from redtask.broker.errors import OK
from redtask.broker.instance_repository import NO_TRIGGER
from redtask.broker.store import Store
from tests.gateway.call_helpers import activities, chain, deploy_xml, instances, one_task, process
from tests.gateway.constructs_helpers import (
    API,
    act,
    assert_ended,
    fetch,
    plain,
    start,
)


def caller(loop: str, extra: str = "") -> bytes:
    """start -> call activity ``call`` (calling ``callee``, with ``loop``) -> ``after`` -> end."""
    call = (
        '<bpmn:callActivity id="call" calledElement="callee"><bpmn:extensionElements>'
        '<camunda:in source="item" target="item" /><camunda:in source="loopCounter" '
        'target="index" /><camunda:out source="result" target="last" />'
        f"</bpmn:extensionElements>{loop}</bpmn:callActivity>"
    )
    after = '<bpmn:serviceTask id="after" camunda:type="external" camunda:topic="after" />'
    body = '<bpmn:startEvent id="s" />' + call + after + '<bpmn:endEvent id="e" />'
    return process("mi_caller", body + chain("s", "call", "after", "e") + extra)


def over_items(sequential: bool = False, condition: str = "") -> str:
    completion = f"<bpmn:completionCondition>{condition}</bpmn:completionCondition>"
    return (
        f'<bpmn:multiInstanceLoopCharacteristics isSequential="{str(sequential).lower()}" '
        'camunda:collection="items" camunda:elementVariable="item">'
        f"{completion if condition else ''}</bpmn:multiInstanceLoopCharacteristics>"
    )


async def _children(client: httpx.AsyncClient, pi: str) -> list[str]:
    return await instances(client, superProcessInstance=pi)


async def test_parallel_call_activity_calls_one_instance_per_element(
    client: httpx.AsyncClient,
) -> None:
    await deploy_xml(client, one_task("callee", "child"), caller(over_items()))
    pi = await start(client, "mi_caller", {"items": ["a", "b", "c"]})
    assert len(await _children(client, pi)) == 3
    tasks = await fetch(client, ["child"])
    seen = sorted((plain(t["variables"])["index"], plain(t["variables"])["item"]) for t in tasks)
    assert seen == [(0, "a"), (1, "b"), (2, "c")]
    body = await client.get(f"{API}/process-instance/{pi}/variables")
    assert plain(body.json()).get("nrOfInstances") is None  # the counters are the body's locals
    for task in tasks:
        await act(client, task, ("complete", {"result": plain(task["variables"])["item"]}, None))
        await assert_ended(client, task["processInstanceId"], "COMPLETED")
    assert await _children(client, pi) == []
    [after] = await fetch(client, ["after"])
    assert after["processInstanceId"] == pi
    got = await client.get(f"{API}/process-instance/{pi}/variables")
    assert plain(got.json())["last"] in {"a", "b", "c"}
    await act(client, after, ("complete", {}, None))
    await assert_ended(client, pi, "COMPLETED")
    found = await activities(client, pi)
    assert found[:2] == ["s", "call#multiInstanceBody"] and found.count("call") == 3


async def test_sequential_call_activity_calls_one_after_another(client: httpx.AsyncClient) -> None:
    await deploy_xml(client, one_task("callee", "child"), caller(over_items(sequential=True)))
    pi = await start(client, "mi_caller", {"items": ["x", "y"]})
    for index, item in enumerate(["x", "y"]):
        [child] = await _children(client, pi)
        [task] = await fetch(client, ["child"])
        assert task["processInstanceId"] == child
        assert plain(task["variables"]) == {"item": item, "index": index}
        await act(client, task, ("complete", {"result": item}, None))
    [after] = await fetch(client, ["after"])
    got = await client.get(f"{API}/process-instance/{pi}/variables")
    assert plain(got.json())["last"] == "y"
    await act(client, after, ("complete", {}, None))
    await assert_ended(client, pi, "COMPLETED")


async def test_completion_condition_ends_the_called_instances_left(
    client: httpx.AsyncClient,
) -> None:
    loop = over_items(condition="${nrOfCompletedInstances >= 1}")
    await deploy_xml(client, one_task("callee", "child"), caller(loop))
    pi = await start(client, "mi_caller", {"items": [1, 2, 3]})
    children = await _children(client, pi)
    tasks = await fetch(client, ["child"])
    first = tasks[0]
    await act(client, first, ("complete", {"result": 1}, None))
    await assert_ended(client, first["processInstanceId"], "COMPLETED")
    for child in children:
        if child != first["processInstanceId"]:
            await assert_ended(client, child, "INTERNALLY_TERMINATED")
    for task in tasks[1:]:
        gone = await client.get(f"{API}/external-task/{task['id']}")
        assert gone.status_code == 404
    [after] = await fetch(client, ["after"])
    assert after["processInstanceId"] == pi


async def test_an_error_of_one_called_instance_is_caught_on_the_body(
    client: httpx.AsyncClient,
) -> None:
    boundary = (
        '<bpmn:boundaryEvent id="caught" attachedToRef="call"><bpmn:errorEventDefinition />'
        '</bpmn:boundaryEvent><bpmn:endEvent id="handled" />'
        '<bpmn:sequenceFlow id="f_caught" sourceRef="caught" targetRef="handled" />'
    )
    await deploy_xml(client, one_task("callee", "child"), caller(over_items(), boundary))
    pi = await start(client, "mi_caller", {"items": ["a", "b"]})
    children = await _children(client, pi)
    tasks = await fetch(client, ["child"])
    url = f"{API}/external-task/{tasks[0]['id']}/bpmnError"
    thrown = await client.post(url, json={"workerId": "w", "errorCode": "E"})
    assert thrown.status_code == 204, thrown.text
    await assert_ended(client, pi, "COMPLETED")
    for child in children:
        await assert_ended(client, child, "INTERNALLY_TERMINATED")
    assert await fetch(client, ["child", "after"]) == []


async def test_called_instances_completed_at_once_take_turns_in_their_call_tree(
    client: httpx.AsyncClient, store: Store
) -> None:
    await deploy_xml(client, one_task("callee", "child"), caller(over_items()))
    pi = await start(client, "mi_caller", {"items": list(range(6))})
    tasks = await fetch(client, ["child"])
    assert len(tasks) == 6
    replies: list[int] = []
    commit = store.executor.repo.commit_blocks

    async def counted(blocks: Any, trigger: Any = NO_TRIGGER) -> list[Any]:
        reply = await commit(blocks, trigger)
        replies.append(int(reply[0]))
        return reply

    store.executor.repo.commit_blocks = counted  # type: ignore[method-assign]
    await asyncio.gather(*(act(client, t, ("complete", {"result": 1}, None)) for t in tasks))
    # every completion also steps the caller: one turn per call tree, so none conflicted
    assert replies == [OK] * 6
    assert await _children(client, pi) == []
    [after] = await fetch(client, ["after"])
    assert after["processInstanceId"] == pi
