"""Call activities and their called instances ending early, through the REST API: BPMN errors
propagating to a boundary event on the call activity (through several levels), errors nobody
catches, deleting the caller or the called instance, and a timer interrupting the call."""

from __future__ import annotations

import httpx

from redtask.broker.store import Store
from tests.conftest import FakeClock
from tests.gateway.call_helpers import (
    activities,
    chain,
    child_of,
    deploy_xml,
    history_state,
    instances,
    one_task,
    process,
    task,
)
from tests.gateway.constructs_helpers import (
    API,
    HOUR,
    act,
    assert_gone,
    fetch,
    fire_timers,
    start,
    variables,
)

E1 = '<bpmn:error id="e1" errorCode="E1" />'


def _caller(key: str, called: str, boundary: str = "", parallel: bool = False) -> bytes:
    """start -> call activity -> 'after' -> end; ``boundary``: an event definition on the call
    activity leading to 'handle' -> end; ``parallel``: a second branch waits in 'other'."""
    call = (
        f'<bpmn:callActivity id="call_{key}" calledElement="{called}"><bpmn:extensionElements>'
        '<camunda:out source="note" target="note" /></bpmn:extensionElements></bpmn:callActivity>'
    )
    body = '<bpmn:startEvent id="s" />' + call + task("after", "after") + '<bpmn:endEvent id="e" />'
    flows = chain("s", "call_" + key, "after", "e")
    if boundary:
        body += (
            f'<bpmn:boundaryEvent id="caught_{key}" attachedToRef="call_{key}">{boundary}'
            f'</bpmn:boundaryEvent>{task("handle", "handle-" + key)}<bpmn:endEvent id="he" />'
        )
        flows += chain(f"caught_{key}", "handle", "he")
    if parallel:
        body = body.replace(
            '<bpmn:startEvent id="s" />',
            '<bpmn:startEvent id="s" /><bpmn:parallelGateway id="fork" />'
            + task("other", "other")
            + '<bpmn:endEvent id="oe" />',
        )
        flows = flows.replace('sourceRef="s"', 'sourceRef="fork"') + chain("s", "fork")
        flows += chain("fork", "other", "oe")
    return process(key, body + flows, extra=E1)


CATCH_E1 = '<bpmn:errorEventDefinition errorRef="e1" camunda:errorCodeVariable="code" />'


async def test_an_error_in_the_called_instance_reaches_the_call_activity_boundary(
    client: httpx.AsyncClient,
) -> None:
    await deploy_xml(client, one_task("failing", "risky"), _caller("guarded", "failing", CATCH_E1))
    pi = await start(client, "guarded")
    child = await child_of(client, pi)
    [risky] = await fetch(client, ["risky"])
    await act(client, risky, ("error", "E1", "boom", {"note": "from child"}))
    assert await history_state(client, child) == "INTERNALLY_TERMINATED"
    assert await activities(client, child) == ["s", "t!"]
    response = await client.get(
        f"{API}/history/process-instance", params={"internallyTerminated": "true"}
    )
    assert [i["id"] for i in response.json()] == [child]
    # camunda:out mappings are applied as the error leaves the called instance
    assert await variables(client, pi) == {"note": "from child", "code": "E1"}
    assert await activities(client, pi) == ["s", "call_guarded!", "caught_guarded", "handle…"]
    assert await instances(client, superProcessInstance=pi) == []


async def test_an_error_end_event_in_the_called_instance_reaches_the_boundary(
    client: httpx.AsyncClient,
) -> None:
    body = (
        '<bpmn:startEvent id="cs" /><bpmn:endEvent id="fail">'
        '<bpmn:errorEventDefinition errorRef="e1" /></bpmn:endEvent>'
    )
    ending = process("ends_in_error", body + chain("cs", "fail"), extra=E1)
    await deploy_xml(client, ending, _caller("guarded_end", "ends_in_error", CATCH_E1))
    pi = await start(client, "guarded_end")
    [child] = (
        await client.get(f"{API}/history/process-instance", params={"superProcessInstanceId": pi})
    ).json()
    assert child["state"] == "INTERNALLY_TERMINATED"
    assert await activities(client, child["id"]) == ["cs", "fail"]
    assert await activities(client, pi) == [
        "s",
        "call_guarded_end!",
        "caught_guarded_end",
        "handle…",
    ]


async def test_an_error_nobody_catches_ends_its_path_in_the_called_instance(
    client: httpx.AsyncClient,
) -> None:
    await deploy_xml(
        client, one_task("failing2", "risky2"), _caller("unguarded", "failing2", CATCH_E1)
    )
    pi = await start(client, "unguarded")
    child = await child_of(client, pi)
    [risky] = await fetch(client, ["risky2"])
    await act(client, risky, ("error", "OTHER", None, {"note": "n"}))
    # as Camunda: the throwing path ends, so the called instance completes and the caller goes on
    assert await history_state(client, child) == "COMPLETED"
    assert await activities(client, child) == ["s", "t"]
    assert await variables(client, pi) == {"note": "n"}
    assert await activities(client, pi) == ["s", "call_unguarded", "after…"]


async def _three_levels(client: httpx.AsyncClient, catch_in_a: bool) -> tuple[str, str, str]:
    """A calls B calls C; C's task throws E1, caught on A's or on B's call activity."""
    await deploy_xml(
        client,
        _caller("level_a", "level_b", CATCH_E1 if catch_in_a else ""),
        _caller("level_b", "level_c", "" if catch_in_a else CATCH_E1),
        one_task("level_c", "deep"),
    )
    a = await start(client, "level_a")
    b = await child_of(client, a)
    c = await child_of(client, b)
    [deep] = await fetch(client, ["deep"])
    await act(client, deep, ("error", "E1", "deep trouble", {"note": "from c"}))
    return a, b, c


async def test_a_chain_of_three_propagates_an_error_to_the_first_caller(
    client: httpx.AsyncClient,
) -> None:
    a, b, c = await _three_levels(client, catch_in_a=True)
    assert await history_state(client, c) == "INTERNALLY_TERMINATED"
    assert await history_state(client, b) == "INTERNALLY_TERMINATED"
    assert await history_state(client, a) == "ACTIVE"
    assert await activities(client, c) == ["s", "t!"]
    assert await activities(client, b) == ["s", "call_level_b!"]
    assert await activities(client, a) == ["s", "call_level_a!", "caught_level_a", "handle…"]
    assert await variables(client, a) == {"note": "from c", "code": "E1"}
    [handle] = await fetch(client, ["handle-level_a", "after"])
    assert handle["processInstanceId"] == a


async def test_a_chain_of_three_propagates_an_error_to_the_middle_caller(
    client: httpx.AsyncClient,
) -> None:
    a, b, c = await _three_levels(client, catch_in_a=False)
    assert await history_state(client, c) == "INTERNALLY_TERMINATED"
    assert await history_state(client, b) == "ACTIVE"
    assert await history_state(client, a) == "ACTIVE"
    assert await activities(client, b) == ["s", "call_level_b!", "caught_level_b", "handle…"]
    assert await activities(client, a) == ["s", "call_level_a…"]
    [handle] = await fetch(client, ["handle-level_b"])
    await act(client, handle, ("complete", {}, None))
    assert await history_state(client, b) == "COMPLETED"
    assert await variables(client, a) == {"note": "from c"}
    assert await activities(client, a) == ["s", "call_level_a", "after…"]


async def test_deleting_the_caller_deletes_the_called_instances(client: httpx.AsyncClient) -> None:
    await deploy_xml(
        client,
        _caller("top", "middle"),
        _caller("middle", "bottom"),
        one_task("bottom", "bottom-work"),
    )
    a = await start(client, "top")
    b = await child_of(client, a)
    c = await child_of(client, b)
    [work] = await fetch(client, ["bottom-work"])
    response = await client.delete(f"{API}/process-instance/{a}")
    assert response.status_code == 204, response.text
    for instance in (a, b, c):
        assert await history_state(client, instance) == "EXTERNALLY_TERMINATED"
    assert await activities(client, c) == ["s", "t!"]
    await assert_gone(client, work)
    assert await instances(client) == []


async def test_deleting_the_called_instance_cancels_the_call_activity(
    client: httpx.AsyncClient,
) -> None:
    await deploy_xml(
        client,
        one_task("deleted_child", "doomed"),
        _caller("lone", "deleted_child"),
        _caller("with_branch", "deleted_child", parallel=True),
    )
    lone = await start(client, "lone")
    response = await client.delete(f"{API}/process-instance/{await child_of(client, lone)}")
    assert response.status_code == 204, response.text
    # Camunda cancels the calling activity instance: nothing else runs, so the caller ends
    assert await history_state(client, lone) == "EXTERNALLY_TERMINATED"
    assert await activities(client, lone) == ["s", "call_lone!"]
    branched = await start(client, "with_branch")
    response = await client.delete(f"{API}/process-instance/{await child_of(client, branched)}")
    assert response.status_code == 204, response.text
    assert await history_state(client, branched) == "ACTIVE"
    [other] = await fetch(client, ["other"])
    await act(client, other, ("complete", {}, None))
    assert await history_state(client, branched) == "COMPLETED"
    assert await activities(client, branched) == [
        "s", "fork", "call_with_branch!", "other", "oe"
    ]  # fmt: skip


async def test_a_timer_on_the_call_activity_interrupts_the_called_instance(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    timer = (
        "<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration>"
        "</bpmn:timerEventDefinition>"
    )
    await deploy_xml(client, one_task("slow", "slow-work"), _caller("impatient", "slow", timer))
    pi = await start(client, "impatient")
    child = await child_of(client, pi)
    [work] = await fetch(client, ["slow-work"])
    await fire_timers(store, clock, HOUR)
    assert await history_state(client, child) == "INTERNALLY_TERMINATED"
    await assert_gone(client, work)
    assert await activities(client, pi) == ["s", "call_impatient!", "caught_impatient", "handle…"]


async def test_a_failure_thrown_as_error_reaches_the_call_activity(
    client: httpx.AsyncClient,
) -> None:
    failing = (
        '<bpmn:startEvent id="s" /><bpmn:serviceTask id="t" camunda:type="external" '
        'camunda:topic="flaky"><bpmn:extensionElements><camunda:errorEventDefinition '
        'errorRef="e1" expression="${true}" /></bpmn:extensionElements></bpmn:serviceTask>'
        '<bpmn:endEvent id="e" />' + chain("s", "t", "e")
    )
    await deploy_xml(
        client, process("flaky", failing, extra=E1), _caller("guards_flaky", "flaky", CATCH_E1)
    )
    pi = await start(client, "guards_flaky")
    child = await child_of(client, pi)
    [flaky] = await fetch(client, ["flaky"])
    response = await client.post(
        f"{API}/external-task/{flaky['id']}/failure",
        json={"workerId": "w", "errorMessage": "down", "retries": 1, "retryTimeout": 0},
    )
    assert response.status_code == 204, response.text
    assert await history_state(client, child) == "INTERNALLY_TERMINATED"
    assert await activities(client, pi) == [
        "s",
        "call_guards_flaky!",
        "caught_guards_flaky",
        "handle…",
    ]
    assert await variables(client, pi) == {"note": None, "code": "E1"}  # out: a null source


async def test_an_error_event_sub_process_of_the_caller_catches_the_called_instances_error(
    client: httpx.AsyncClient,
) -> None:
    # as Camunda's BpmnExceptionHandler: the error goes up to the call activity, and an error
    # event sub-process of its scope catches it (the call activity has no boundary event)
    handler = (
        '<bpmn:subProcess id="on_e1" triggeredByEvent="true"><bpmn:startEvent id="es">'
        f"{CATCH_E1}</bpmn:startEvent>"
        + task("handle", "handle-esp")
        + '<bpmn:endEvent id="ee" />'
        + chain("es", "handle", "ee")
        + "</bpmn:subProcess>"
    )
    caller = _caller("esp_caller", "failing_esp").replace(
        b"</bpmn:process>", handler.encode() + b"</bpmn:process>"
    )
    await deploy_xml(client, one_task("failing_esp", "risky_esp"), caller)
    pi = await start(client, "esp_caller")
    child = await child_of(client, pi)
    [risky] = await fetch(client, ["risky_esp"])
    await act(client, risky, ("error", "E1", "boom", {"note": "from child"}))
    assert await history_state(client, child) == "INTERNALLY_TERMINATED"
    assert await activities(client, child) == ["s", "t!"]
    assert await variables(client, pi) == {"note": "from child", "code": "E1"}
    assert await activities(client, pi) == ["s", "call_esp_caller!", "on_e1…", "es", "handle…"]
    [handle] = await fetch(client, ["handle-esp"])
    await act(client, handle, ("complete", {}, None))
    assert await history_state(client, pi) == "COMPLETED"
