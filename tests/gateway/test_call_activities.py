"""Call activities through the REST API: the called instance is a sub-process instance, its
in/out mappings and business key, its end continuing the caller, bindings, missing and
recursive calls."""

from __future__ import annotations

import re

import httpx
import pytest

from redtask.broker import call_cascade
from redtask.broker.engine import MAX_CALL_DEPTH
from tests.gateway.call_helpers import (
    activities,
    chain,
    child_of,
    deploy_xml,
    instances,
    one_task,
    process,
    task,
)
from tests.gateway.constructs_helpers import (
    API,
    act,
    assert_ended,
    deploy,
    fetch,
    start,
    variables,
)


async def test_call_activity_maps_in_and_out_and_continues_the_caller(
    client: httpx.AsyncClient,
) -> None:
    await deploy(client, "call_child", own=True)
    await deploy(client, "call_parent", own=True)
    pi = await start(client, "caller", {"callee": "callee", "order": "o-7", "amount": 21})
    child = await child_of(client, pi)
    assert await instances(client, subProcessInstance=child) == [pi]
    assert await instances(client, rootProcessInstances="true") == [pi]
    assert await instances(client, leafProcessInstances="true") == [child]
    got = await client.get(f"{API}/process-instance/{child}")
    assert got.json()["businessKey"] == "bk-o-7"
    assert await variables(client, child) == {"orderId": "o-7", "doubled": 42, "nothing": None}
    [work] = await fetch(client, ["child-work"])
    assert work["processInstanceId"] == child and work["businessKey"] == "bk-o-7"
    await act(client, work, ("complete", {"result": "done"}, None))
    await assert_ended(client, child, "COMPLETED")
    assert await variables(client, pi) == {
        "callee": "callee",
        "order": "o-7",
        "amount": 21,
        "childResult": "done",
        "shouted": "done!",
    }
    [after] = await fetch(client, ["after"])
    await act(client, after, ("complete", {}, None))
    await assert_ended(client, pi, "COMPLETED")
    assert await activities(client, pi) == ["start", "call", "after", "end"]
    assert await activities(client, child) == ["child_start", "work", "child_end"]
    response = await client.get(f"{API}/history/activity-instance", params={"activityId": "call"})
    [call] = response.json()
    assert (call["calledProcessInstanceId"], call["activityType"]) == (child, "callActivity")
    response = await client.get(f"{API}/history/activity-instance", params={"activityId": "work"})
    assert [a["rootProcessInstanceId"] for a in response.json()] == [pi]
    assert await instances(client, superProcessInstance=pi) == []


def _caller(key: str, call_attributes: str, mappings: str = "", io: str = "") -> bytes:
    """start -> call activity -> an external task 'after' -> end."""
    call = (
        f'<bpmn:callActivity id="call" {call_attributes}><bpmn:extensionElements>{io}{mappings}'
        "</bpmn:extensionElements></bpmn:callActivity>"
    )
    body = '<bpmn:startEvent id="s" />' + call + task("after", "after") + '<bpmn:endEvent id="e" />'
    return process(key, body + chain("s", "call", "after", "e"))


async def test_all_variables_in_and_out_and_local(client: httpx.AsyncClient) -> None:
    io = (
        '<camunda:inputOutput><camunda:inputParameter name="inner">${a + 1}'
        "</camunda:inputParameter></camunda:inputOutput>"
    )
    mappings = (
        '<camunda:in variables="all" local="true" />'
        '<camunda:out variables="all" />'
        '<camunda:out source="b" target="onCall" local="true" />'
    )
    await deploy_xml(
        client,
        one_task("child_all", "child-all"),
        _caller("caller_all", 'calledElement="child_all"', mappings, io),
    )
    pi = await start(client, "caller_all", {"a": 1})
    child = await child_of(client, pi)
    assert await variables(client, child) == {"inner": 2}  # only the call activity's locals
    [work] = await fetch(client, ["child-all"])
    await act(client, work, ("complete", {"b": "x", "c": 3}, None))
    # every child variable goes out from the call activity: 'inner' is its local (it ends
    # with it, as the local out 'onCall' does), the others reach the process
    assert await variables(client, pi) == {"a": 1, "b": "x", "c": 3}
    await assert_ended(client, child, "COMPLETED")


async def test_a_called_instance_without_wait_states_continues_the_caller_at_once(
    client: httpx.AsyncClient,
) -> None:
    empty = process(
        "empty_child", '<bpmn:startEvent id="cs" /><bpmn:endEvent id="ce" />' + chain("cs", "ce")
    )
    mappings = (
        '<camunda:in source="a" target="a" />'
        '<camunda:out sourceExpression="${a * 10}" target="b" />'
    )
    await deploy_xml(
        client, empty, _caller("caller_empty", 'calledElement="empty_child"', mappings)
    )
    pi = await start(client, "caller_empty", {"a": 4})
    assert await variables(client, pi) == {"a": 4, "b": 40}
    assert await instances(client, superProcessInstance=pi) == []
    [after] = await fetch(client, ["after"])
    assert after["processInstanceId"] == pi
    response = await client.get(
        f"{API}/history/process-instance", params={"superProcessInstanceId": pi}
    )
    [child] = response.json()
    assert child["state"] == "COMPLETED"
    assert child["superProcessInstanceId"] == pi and child["rootProcessInstanceId"] == pi
    assert await activities(client, child["id"]) == ["cs", "ce"]
    assert await activities(client, pi) == ["s", "call", "after…"]
    response = await client.get(
        f"{API}/history/process-instance", params={"subProcessInstanceId": child["id"]}
    )
    assert [i["id"] for i in response.json()] == [pi]
    response = await client.get(
        f"{API}/history/process-instance", params={"rootProcessInstances": "true"}
    )
    assert [i["id"] for i in response.json()] == [pi]


async def test_bindings_choose_the_called_definition(client: httpx.AsyncClient) -> None:
    callers = [
        _caller("by_latest", 'calledElement="versioned"'),
        _caller(
            "by_deployment", 'calledElement="versioned" camunda:calledElementBinding="deployment"'
        ),
        _caller(
            "by_version",
            'calledElement="versioned" camunda:calledElementBinding="version" '
            'camunda:calledElementVersion="${wanted}"',
        ),
        _caller(
            "by_tag",
            'calledElement="versioned" camunda:calledElementBinding="versionTag" '
            'camunda:calledElementVersionTag="t2"',
        ),
    ]
    await deploy_xml(client, one_task("versioned", "v1", tag="t1"), *callers, name="first")
    await deploy_xml(client, one_task("versioned", "v2", tag="t2"), name="second")
    await deploy_xml(client, one_task("versioned", "v3", tag="t3"), name="third")
    expected = {"by_latest": "v3", "by_deployment": "v1", "by_version": "v2", "by_tag": "v2"}
    for key, topic in expected.items():
        pi = await start(client, key, {"wanted": 2})
        child = await child_of(client, pi)
        [work] = await fetch(client, ["v1", "v2", "v3"])
        assert (work["processInstanceId"], work["topicName"]) == (child, topic), key
    # a version tag must name one version (Camunda's ProcessDefinitionManager)
    await deploy_xml(client, one_task("versioned", "v4", tag="t2"), name="fourth")
    response = await client.post(f"{API}/process-definition/key/by_tag/start", json={})
    assert response.status_code == 400, response.text
    assert response.json()["message"].endswith(
        ": ENGINE-03045 There are '2' results for a process definition with key 'versioned', "
        "versionTag 't2' and tenant-id '{}'."
    )


async def test_the_business_key_passed_on_with_camundas_idiom(client: httpx.AsyncClient) -> None:
    mappings = '<camunda:in businessKey="#{execution.processBusinessKey}" />'
    await deploy_xml(
        client,
        one_task("keyed", "keyed"),
        _caller("passes_key", 'calledElement="keyed"', mappings),
    )
    pi = await start(client, "passes_key", businessKey="B-1")
    child = await child_of(client, pi)
    got = await client.get(f"{API}/process-instance/{child}")
    assert got.json()["businessKey"] == "B-1"


async def test_the_tenant_of_the_called_definition(client: httpx.AsyncClient) -> None:
    await deploy_xml(client, one_task("tenanted", "of-t1"), tenant="t1")
    await deploy_xml(client, one_task("tenanted", "of-none"))
    attributes = 'calledElement="tenanted" camunda:calledElementTenantId="${tenant}"'
    await deploy_xml(
        client, _caller("by_tenant", attributes), _caller("same_tenant", 'calledElement="tenanted"')
    )
    pi = await start(client, "by_tenant", {"tenant": "t1"})
    [work] = await fetch(client, ["of-t1", "of-none"])
    assert (work["topicName"], work["tenantId"]) == ("of-t1", "t1")
    assert work["processInstanceId"] == await child_of(client, pi)
    pi = await start(client, "same_tenant")  # the caller's own tenant: none
    [work] = await fetch(client, ["of-t1", "of-none"])
    assert (work["topicName"], work["tenantId"]) == ("of-none", None)


async def _start_refused(client: httpx.AsyncClient, key: str, message: str) -> None:
    response = await client.post(f"{API}/process-definition/key/{key}/start", json={})
    assert response.status_code == 400, response.text
    definition = (await client.get(f"{API}/process-definition/key/{key}")).json()["id"]
    expected = f"Cannot instantiate process definition {definition}: {message}"
    pattern = re.escape(expected).replace(re.escape("{}"), "[0-9a-f-]{36}")  # an instance id
    assert re.fullmatch(pattern, response.json()["message"]), response.json()["message"]
    assert await instances(client) == []  # nothing was stored


async def test_a_missing_called_process_fails_the_step(client: httpx.AsyncClient) -> None:
    await deploy_xml(
        client,
        _caller("calls_nothing", 'calledElement="nowhere"'),
        _caller(
            "calls_elsewhere", 'calledElement="lonely" camunda:calledElementBinding="deployment"'
        ),
        _caller(
            "calls_no_version",
            'calledElement="calls_nothing" camunda:calledElementBinding="version" '
            'camunda:calledElementVersion="7"',
        ),
    )
    await _start_refused(
        client,
        "calls_nothing",
        "no processes deployed with key 'nowhere': processDefinition is null",
    )
    await _start_refused(
        client,
        "calls_no_version",
        "no processes deployed with key = 'calls_nothing', version = '7' and tenant-id = 'null': "
        "processDefinition is null",
    )
    await deploy_xml(client, one_task("lonely", "lonely"), name="elsewhere")
    first = (await client.get(f"{API}/process-definition/key/calls_elsewhere")).json()
    await _start_refused(
        client,
        "calls_elsewhere",
        f"no processes deployed with key = 'lonely' in deployment = "
        f"'{first['deploymentId']}': processDefinition is null",
    )


async def test_a_call_after_a_task_fails_the_completion(client: httpx.AsyncClient) -> None:
    body = (
        '<bpmn:startEvent id="s" />'
        + task("first", "first")
        + '<bpmn:callActivity id="call" calledElement="${target}" /><bpmn:endEvent id="e" />'
    )
    await deploy_xml(client, process("task_then_call", body + chain("s", "first", "call", "e")))
    pi = await start(client, "task_then_call", {"target": "gone"})
    [first] = await fetch(client, ["first"])
    response = await client.post(
        f"{API}/external-task/{first['id']}/complete", json={"workerId": "w"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["message"] == (
        "no processes deployed with key 'gone': processDefinition is null"
    )
    assert await activities(client, pi) == ["s", "first…"]  # the task still waits


async def test_recursion_is_bounded(client: httpx.AsyncClient) -> None:
    body = '<bpmn:startEvent id="s" /><bpmn:callActivity id="again" calledElement="itself" />'
    await deploy_xml(client, process("itself", body + chain("s", "again")))
    await _start_refused(
        client,
        "itself",
        f"Call activity 'again' cannot start a process instance: call activities may nest "
        f"process instances at most {MAX_CALL_DEPTH} levels deep",
    )


async def test_one_step_changes_a_bounded_number_of_instances(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(call_cascade, "MAX_INSTANCES", 2)
    calls = "".join(f'<bpmn:callActivity id="c{i}" calledElement="leaf" />' for i in range(2))
    body = '<bpmn:startEvent id="s" /><bpmn:parallelGateway id="fork" />' + calls
    flows = chain("s", "fork") + chain("fork", "c0") + chain("fork", "c1")
    await deploy_xml(client, one_task("leaf", "leaf"), process("two_calls", body + flows))
    await _start_refused(
        client,
        "two_calls",
        "A step of process instance {} would take 3 process instances through call activities, "
        "more than the limit of 2",
    )
