"""Message and signal start events end to end through the REST API: ``POST /message`` starts
an instance of the latest version whose message start event matches (after the waiting
executions, as Camunda correlates), ``POST /signal`` one of every matching process."""

from __future__ import annotations

from typing import Any

import httpx

from tests.gateway.constructs_helpers import API, act, fetch, plain, typed_map, work
from tests.gateway.start_helpers import (
    HEAD,
    MESSAGE,
    SIGNAL,
    activity_ids,
    deploy_xml,
    deployed,
    process,
    started_instances,
)


async def message(client: httpx.AsyncClient, name: str, **extra: Any) -> httpx.Response:
    return await client.post(f"{API}/message", json={"messageName": name, **extra})


async def test_a_message_start_event_starts_an_instance(client: httpx.AsyncClient) -> None:
    await deployed(client, "orders", process("orders", ("on_order", MESSAGE)))
    response = await message(
        client,
        "order",
        businessKey="b-1",
        processVariables=typed_map({"amount": 7}),
        processVariablesLocal=typed_map({"note": "x"}),
        resultEnabled=True,
    )
    assert response.status_code == 200, response.text
    [result] = response.json()
    instance = result["processInstance"]
    definition = (await client.get(f"{API}/process-definition/key/orders")).json()
    assert result == {
        "resultType": "ProcessDefinition",
        "execution": None,
        "processInstance": {
            "links": [],
            "id": instance["id"],
            "definitionId": definition["id"],
            "definitionKey": "orders",
            "businessKey": "b-1",
            "caseInstanceId": None,
            "ended": False,
            "suspended": False,
            "tenantId": None,
        },
    }
    [task] = await fetch(client, ["orders"])
    assert plain(task["variables"]) == {"amount": 7, "note": "x"}
    await act(client, task, ("complete", {}, None))
    assert await activity_ids(client, instance["id"]) == ["on_order", "on_order_task", "end"]
    [historic] = await started_instances(client, "orders")
    assert (historic["startActivityId"], historic["state"]) == ("on_order", "COMPLETED")


async def test_start_by_key_uses_the_none_start_event_or_the_only_start_event(
    client: httpx.AsyncClient,
) -> None:
    both = process("both", ("on_order", MESSAGE), ("plain", ""))
    await deployed(client, "both", both)
    only = process("only", ("on_order_only", '<messageEventDefinition messageRef="m2"/>'))
    await deployed(client, "only", only)
    for key in ("both", "only"):
        response = await client.post(f"{API}/process-definition/key/{key}/start", json={})
        assert response.status_code == 200, response.text
    assert sorted(await work(client, ["both", "only"])) == ["on_order_only_task", "plain_task"]
    # with two message start events and no none start event there is no initial one
    invoice, payment = (f'<messageEventDefinition messageRef="{m}"/>' for m in ("m3", "m4"))
    await deployed(client, "two", process("two", ("a", invoice), ("b", payment)))
    refused = await client.post(f"{API}/process-definition/key/two/start", json={})
    assert refused.status_code == 400, refused.text
    assert refused.json()["message"].endswith(
        "Cannot start process instance, initial activity where the process instance should "
        "start is null: initial is null"
    )
    assert (await message(client, "payment")).status_code == 204
    assert await work(client, ["two"]) == ["b_task"]


WAITING = (
    f'{HEAD}<process id="waiting" isExecutable="true"><startEvent id="s"/>'
    '<sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>'
    '<receiveTask id="wait" messageRef="m1"/><sequenceFlow id="f2" sourceRef="wait" '
    'targetRef="e"/><endEvent id="e"/></process></definitions>'
).encode()


async def test_a_waiting_execution_comes_before_a_message_start_event(
    client: httpx.AsyncClient,
) -> None:
    await deployed(client, "orders", process("orders", ("on_order", MESSAGE)))
    await deployed(client, "waiting", WAITING)
    pi = (await client.post(f"{API}/process-definition/key/waiting/start", json={})).json()["id"]
    [first] = (await message(client, "order", resultEnabled=True)).json()
    assert (first["resultType"], first["execution"]["processInstanceId"]) == ("Execution", pi)
    assert await started_instances(client, "orders") == []
    await client.post(f"{API}/process-definition/key/waiting/start", json={})
    both = (await message(client, "order", all=True, resultEnabled=True)).json()
    assert [r["resultType"] for r in both] == ["Execution", "ProcessDefinition"]
    assert len(await started_instances(client, "orders")) == 1


async def test_the_latest_version_starts_and_another_process_cannot_take_the_name(
    client: httpx.AsyncClient,
) -> None:
    await deployed(client, "v1", process("orders", ("on_order", MESSAGE)))
    await deployed(client, "v2", process("orders", ("on_order_v2", MESSAGE)))
    [started] = (await message(client, "order", resultEnabled=True)).json()
    assert started["processInstance"]["definitionId"].startswith("orders:2:")
    assert await work(client, ["orders"]) == ["on_order_v2_task"]
    taken = await deploy_xml(client, "other", process("other", ("steal", MESSAGE)))
    assert taken.status_code == 400, taken.text
    assert taken.json()["message"] == (
        "ENGINE-01011 Cannot deploy process definition 'other.bpmn': there already is a "
        "message event subscription for the message with name 'order'."
    )
    # a version without the message start event stops it
    await deployed(client, "v3", process("orders", ("plain", "")))
    refused = await message(client, "order")
    assert refused.status_code == 400, refused.text
    assert "No process definition or execution matches the parameters" in refused.text


async def test_one_message_start_per_tenant_and_ambiguity_is_refused(
    client: httpx.AsyncClient,
) -> None:
    for tenant in ("t1", "t2"):
        response = await client.post(
            f"{API}/deployment/create",
            data={"deployment-name": tenant, "tenant-id": tenant},
            files={"data": ("o.bpmn", process("orders", ("on_order", MESSAGE)), "text/xml")},
        )
        assert response.status_code == 200, response.text
    ambiguous = await message(client, "order")
    assert ambiguous.status_code == 400, ambiguous.text
    assert ambiguous.json()["message"].startswith(
        "org.camunda.bpm.engine.MismatchingMessageCorrelationException: ENGINE-13030 Cannot "
        "correlate a message with name 'order' to a single process definition. 2 process "
        "definitions match the correlations keys: CorrelationSet [businessKey=null"
    )
    [one] = (await message(client, "order", tenantId="t2", resultEnabled=True)).json()
    assert one["processInstance"]["tenantId"] == "t2"


async def test_a_signal_starts_every_latest_process_with_a_signal_start_event(
    client: httpx.AsyncClient,
) -> None:
    await deployed(client, "a", process("alarm_a", ("on_alarm", SIGNAL), topic="alarms"))
    await deployed(client, "b1", process("alarm_b", ("on_alarm", SIGNAL), topic="alarms"))
    await deployed(client, "b2", process("alarm_b", ("on_alarm_v2", SIGNAL), topic="alarms"))
    response = await client.post(
        f"{API}/signal", json={"name": "alarm", "variables": typed_map({"level": 3})}
    )
    assert response.status_code == 204, response.text
    seen: list[dict[str, Any]] = []
    assert await work(client, ["alarms"], seen=seen) == ["on_alarm_task", "on_alarm_v2_task"]
    assert [plain(t["variables"]) for t in seen] == [{"level": 3}, {"level": 3}]
    assert (await client.post(f"{API}/signal", json={"name": "other"})).status_code == 204
    assert await fetch(client, ["alarms"]) == []


async def test_two_start_events_of_one_process_cannot_share_a_message_or_signal(
    client: httpx.AsyncClient,
) -> None:
    for definition, kind, name in ((MESSAGE, "message", "order"), (SIGNAL, "signal", "alarm")):
        twice = process("twice", ("one", definition), ("two", definition))
        response = await deploy_xml(client, "twice", twice)
        assert response.status_code == 400, response.text
        [problem] = response.json()["details"]["twice.bpmn"]["errors"]
        assert problem["message"] == (
            f"Cannot have more than one {kind} event subscription with name '{name}' for "
            "scope 'twice'"
        )
        assert problem["bpmnElementIds"] == ["two"]
