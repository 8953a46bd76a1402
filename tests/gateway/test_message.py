"""POST /message (MessageRestServiceImpl, CorrelationMessageDto): correlation by name, business key,
process instance id, correlation keys (process and local) and tenant; Camunda's errors and
results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from redtask.broker.bpmn import ProcessModel, parse_bpmn
from redtask.broker.store import Store
from tests.gateway.helpers import API, error

FILES = Path(__file__).resolve().parents[1] / "broker" / "bpmn" / "files"
MESSAGE = "/engine-rest/message"


def _messages_model(store: Store) -> ProcessModel:
    [model] = parse_bpmn((FILES / "messages.bpmn").read_bytes(), "messages.bpmn")

    async def lookup(definition_id: str) -> ProcessModel:
        return model

    store.models = lookup
    return model


async def test_a_message_moves_the_instance_with_that_business_key(
    client: httpx.AsyncClient, store: Store
) -> None:
    model = _messages_model(store)
    first, _ = await store.start_instance(model, "correlate:1:x", None, "order-1")
    await store.start_instance(model, "correlate:1:x", None, "order-2")
    response = await client.post(
        MESSAGE,
        json={
            "messageName": "PaymentReceived",
            "businessKey": "order-1",
            "processVariables": {"paid": {"type": "Boolean", "value": True}},
        },
    )
    assert response.status_code == 204 and response.content == b""
    state, version = await store.instance_state(first.instance_id)
    assert version == 2 and state.variables["paid"]["value"] is True

    response = await client.post(
        MESSAGE, json={"messageName": "Shipped", "businessKey": "order-1", "resultEnabled": True}
    )
    [result] = response.json()
    assert response.status_code == 200
    assert result["resultType"] == "Execution" and result["processInstance"] is None
    assert result["execution"]["processInstanceId"] == first.instance_id
    assert (await store.instance_state(first.instance_id))[0].status == "completed"


async def test_message_errors_are_camundas(client: httpx.AsyncClient, store: Store) -> None:
    model = _messages_model(store)
    await store.start_instance(model, "correlate:1:x", None, "a")
    await store.start_instance(model, "correlate:1:x", None, "b")
    cases = [
        ({}, "InvalidRequestException", "No message name supplied", None),
        (
            {"messageName": "X", "tenantId": "t", "withoutTenantId": True},
            "InvalidRequestException",
            "Parameter 'tenantId' cannot be used together with parameter 'withoutTenantId'.",
            None,
        ),
        (
            {"messageName": "X", "variablesInResultEnabled": True},
            "InvalidRequestException",
            "Parameter 'variablesInResultEnabled' cannot be used without 'resultEnabled' set to "
            "true.",
            None,
        ),
        (
            {"messageName": "Nobody"},
            "RestException",
            "org.camunda.bpm.engine.MismatchingMessageCorrelationException: Cannot correlate "
            "message 'Nobody': No process definition or execution matches the parameters",
            0,
        ),
        (
            {"messageName": "PaymentReceived"},
            "RestException",
            "org.camunda.bpm.engine.MismatchingMessageCorrelationException: ENGINE-13031 Cannot "
            "correlate a message with name 'PaymentReceived' to a single execution. 2 executions "
            "match the correlation keys: CorrelationSet [businessKey=null, processInstanceId=null, "
            "processDefinitionId=null, correlationKeys=null, localCorrelationKeys=null, "
            "tenantId=null, isTenantIdSet=false, isExecutionsOnly=false]",
            0,
        ),
    ]
    for body, kind, message, code in cases:
        response = await client.post(MESSAGE, json=body)
        assert response.status_code == 400, body
        assert response.json() == {"type": kind, "message": message, "code": code}
    all_response = await client.post(MESSAGE, json={"messageName": "PaymentReceived", "all": True})
    assert all_response.status_code == 204


SLOTS = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  id="Definitions_slots" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:message id="Msg_booked" name="Booked" />
  <bpmn:message id="Msg_confirmed" name="Confirmed" />
  <bpmn:process id="slots" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="sub" />
    <bpmn:subProcess id="sub">
      <bpmn:startEvent id="sub_start" />
      <bpmn:sequenceFlow id="s1" sourceRef="sub_start" targetRef="booked" />
      <bpmn:intermediateCatchEvent id="booked">
        <bpmn:messageEventDefinition messageRef="Msg_booked" />
      </bpmn:intermediateCatchEvent>
      <bpmn:sequenceFlow id="s2" sourceRef="booked" targetRef="confirmed" />
      <bpmn:receiveTask id="confirmed" messageRef="Msg_confirmed" />
      <bpmn:sequenceFlow id="s3" sourceRef="confirmed" targetRef="sub_end" />
      <bpmn:endEvent id="sub_end" />
    </bpmn:subProcess>
    <bpmn:sequenceFlow id="f1" sourceRef="sub" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""
NO_MATCH = (
    "org.camunda.bpm.engine.MismatchingMessageCorrelationException: Cannot correlate message "
    "'{}': No process definition or execution matches the parameters"
)


def _string(value: str) -> dict[str, Any]:
    return {"type": "String", "value": value}


def _typed(kind: str, value: Any) -> dict[str, Any]:
    return {"type": kind, "value": value, "valueInfo": {}}


async def _start(
    store: Store,
    model: ProcessModel,
    variables: dict[str, Any] | None = None,
    tenant_id: str | None = None,
) -> str:
    state, _ = await store.start_instance(model, f"{model.key}:1:x", variables, None, tenant_id)
    return state.instance_id


async def _waits(store: Store, instance_id: str) -> list[str]:
    """The message names the instance waits for ([] once it ended)."""
    state, _ = await store.instance_state(instance_id)
    return [e.wait.ref for e in state.executions if e.wait is not None]


async def _waiting_execution(store: Store, instance_id: str) -> str:
    state, _ = await store.instance_state(instance_id)
    [execution] = [e.id for e in state.executions if e.wait is not None]
    return execution


async def test_a_message_aimed_at_instance_x_is_not_delivered_to_waiting_instance_y(
    client: httpx.AsyncClient, store: Store
) -> None:
    model = _messages_model(store)
    x, y = await _start(store, model), await _start(store, model)
    execution = await _waiting_execution(store, x)

    body = {"messageName": "PaymentReceived", "processInstanceId": x, "resultEnabled": True}
    response = await client.post(MESSAGE, json=body)
    triggered = {"id": execution, "processInstanceId": x, "ended": False, "tenantId": None}
    assert (response.status_code, response.json()) == (
        200,
        [{"resultType": "Execution", "execution": triggered, "processInstance": None}],
    )
    assert (await _waits(store, x), await _waits(store, y)) == (["Shipped"], ["PaymentReceived"])
    assert (await store.instance_state(y))[1] == 1  # y was not even written

    # x no longer waits for it, and an unknown instance matches nothing: y is never the fallback
    for target in (x, "no-such-instance"):
        body = {"messageName": "PaymentReceived", "processInstanceId": target}
        response = await client.post(MESSAGE, json=body)
        expected = error("RestException", NO_MATCH.format("PaymentReceived"), 0)
        assert (response.status_code, response.json()) == (400, expected)
    assert await _waits(store, y) == ["PaymentReceived"]


async def test_correlation_keys_pick_the_instance_whose_process_variables_equal_them(
    client: httpx.AsyncClient, store: Store
) -> None:
    model = _messages_model(store)
    first = await _start(store, model, {"orderId": _string("o-1"), "amount": {"value": 5}})
    second = await _start(store, model, {"orderId": _string("o-2"), "amount": {"value": 5}})

    mismatches = [
        {"orderId": _string("o-3")},
        {"orderId": _string("o-1"), "amount": {"type": "Long", "value": 5}},  # 5 is an Integer
        {"missing": _string("o-1")},
    ]
    for keys in mismatches:
        response = await client.post(
            MESSAGE, json={"messageName": "PaymentReceived", "correlationKeys": keys}
        )
        expected = error("RestException", NO_MATCH.format("PaymentReceived"), 0)
        assert (response.status_code, response.json()) == (400, expected), keys
    assert (await _waits(store, first), await _waits(store, second)) == (
        ["PaymentReceived"],
        ["PaymentReceived"],
    )

    keys = {"orderId": _string("o-2"), "amount": {"value": 5}}
    response = await client.post(
        MESSAGE, json={"messageName": "PaymentReceived", "correlationKeys": keys}
    )
    assert response.status_code == 204
    assert (await _waits(store, first), await _waits(store, second)) == (
        ["PaymentReceived"],
        ["Shipped"],
    )

    response = await client.post(
        MESSAGE,
        json={"messageName": "PaymentReceived", "correlationKeys": {"amount": {"value": 5}}},
    )
    assert response.status_code == 204  # only the first still waits for it
    assert await _waits(store, first) == ["Shipped"]


async def test_several_matches_name_the_correlation_set_as_camunda_prints_it(
    client: httpx.AsyncClient, store: Store
) -> None:
    model = _messages_model(store)
    for _ in range(2):
        await _start(store, model, {"region": _string("eu")})
    body = {
        "messageName": "PaymentReceived",
        "businessKey": None,
        "correlationKeys": {"region": {"value": "eu"}},
        "localCorrelationKeys": {"region": _string("eu")},
    }
    response = await client.post(MESSAGE, json=body)
    expected = error(
        "RestException",
        "org.camunda.bpm.engine.MismatchingMessageCorrelationException: ENGINE-13031 Cannot "
        "correlate a message with name 'PaymentReceived' to a single execution. 2 executions "
        "match the correlation keys: CorrelationSet [businessKey=null, processInstanceId=null, "
        "processDefinitionId=null, correlationKeys={\n  region => Untyped value 'eu', "
        "isTransient = false\n}, localCorrelationKeys={\n  region => Untyped value 'eu', "
        "isTransient = false\n}, tenantId=null, isTenantIdSet=false, isExecutionsOnly=false]",
        0,
    )
    assert (response.status_code, response.json()) == (400, expected)

    response = await client.post(MESSAGE, json={**body, "all": True, "resultEnabled": True})
    assert (response.status_code, len(response.json())) == (200, 2)


async def test_tenant_filters_and_their_conflict_with_a_process_instance_id(
    client: httpx.AsyncClient, store: Store
) -> None:
    model = _messages_model(store)
    owned = await _start(store, model, tenant_id="t1")
    shared = await _start(store, model)

    response = await client.post(MESSAGE, json={"messageName": "PaymentReceived", "tenantId": "t2"})
    expected = error("RestException", NO_MATCH.format("PaymentReceived"), 0)
    assert (response.status_code, response.json()) == (400, expected)

    body = {"messageName": "PaymentReceived", "resultEnabled": True}
    [result] = (await client.post(MESSAGE, json={**body, "tenantId": "t1"})).json()
    assert result["execution"]["processInstanceId"] == owned
    assert result["execution"]["tenantId"] == "t1"
    [result] = (await client.post(MESSAGE, json={**body, "withoutTenantId": True})).json()
    assert result["execution"]["processInstanceId"] == shared
    assert result["execution"]["tenantId"] is None

    conflict = error(
        "BadUserRequestException",
        "ENGINE-13028 Cannot specify a tenant-id when correlate a message to a single process "
        "instance.",
        0,
    )
    for tenant in ({"tenantId": "t1"}, {"withoutTenantId": True}):
        response = await client.post(
            MESSAGE, json={"messageName": "Shipped", "processInstanceId": owned, **tenant}
        )
        assert (response.status_code, response.json()) == (400, conflict)
    assert (await _waits(store, owned), await _waits(store, shared)) == (["Shipped"], ["Shipped"])


async def test_variables_in_result_are_the_process_variables_after_the_message(
    client: httpx.AsyncClient, store: Store
) -> None:
    model = _messages_model(store)
    instance_id = await _start(store, model, {"amount": {"value": 5}})
    execution = await _waiting_execution(store, instance_id)
    body = {
        "messageName": "PaymentReceived",
        "processVariables": {"paid": {"type": "Boolean", "value": True}},
        "processVariablesLocal": {"note": _string("top level: a process variable")},
        "resultEnabled": True,
        "variablesInResultEnabled": True,
    }
    response = await client.post(MESSAGE, json=body)
    assert (response.status_code, response.json()) == (
        200,
        [
            {
                "resultType": "Execution",
                "execution": {
                    "id": execution,
                    "processInstanceId": instance_id,
                    "ended": False,
                    "tenantId": None,
                },
                "processInstance": None,
                "variables": {
                    "amount": _typed("Integer", 5),
                    "paid": _typed("Boolean", True),
                    "note": _typed("String", "top level: a process variable"),
                },
            }
        ],
    )
    variables = await client.get(f"{API}/process-instance/{instance_id}/variables")
    assert set(variables.json()) == {"amount", "paid", "note"}

    # the last message ends the instance: its variables at the end, the execution ended
    body = {"messageName": "Shipped", "resultEnabled": True, "variablesInResultEnabled": True}
    [result] = (await client.post(MESSAGE, json=body)).json()
    assert result["execution"]["ended"] is True
    assert set(result["variables"]) == {"amount", "paid", "note"}
    assert (await store.instance_state(instance_id))[0].status == "completed"


async def test_local_variables_and_keys_belong_to_the_scope_the_execution_waits_in(
    client: httpx.AsyncClient, store: Store
) -> None:
    [model] = parse_bpmn(SLOTS, "slots.bpmn")
    _serve(store, model)
    first, second = await _start(store, model), await _start(store, model)
    for instance_id, slot in ((first, 1), (second, 2)):
        body = {
            "messageName": "Booked",
            "processInstanceId": instance_id,
            "processVariablesLocal": {"slot": {"type": "Integer", "value": slot}},
        }
        assert (await client.post(MESSAGE, json=body)).status_code == 204
        # a local of the sub-process, not a process variable
        variables = await client.get(f"{API}/process-instance/{instance_id}/variables")
        assert variables.json() == {}

    as_process_variable = {"messageName": "Confirmed", "correlationKeys": {"slot": {"value": 2}}}
    response = await client.post(MESSAGE, json=as_process_variable)
    expected = error("RestException", NO_MATCH.format("Confirmed"), 0)
    assert (response.status_code, response.json()) == (400, expected)

    body = {
        "messageName": "Confirmed",
        "localCorrelationKeys": {"slot": {"type": "Integer", "value": 2}},
        "resultEnabled": True,
        "variablesInResultEnabled": True,
    }
    [result] = (await client.post(MESSAGE, json=body)).json()
    assert result["execution"]["processInstanceId"] == second
    assert (result["execution"]["ended"], result["variables"]) == (True, {})
    assert (await _waits(store, first), await _waits(store, second)) == (["Confirmed"], [])


async def test_bad_keys_and_values_are_camundas_errors(
    client: httpx.AsyncClient, store: Store
) -> None:
    model = _messages_model(store)
    instance_id = await _start(store, model)
    cases = [
        (
            {"correlationKeys": {"n": {"type": "Integer", "value": "x"}}},
            error(
                "InvalidRequestException",
                "Cannot deliver message: Cannot convert value 'x' of type 'Integer' to java type "
                "java.lang.Integer",
            ),
        ),
        (
            {"processVariablesLocal": {"n": {"type": "Nope", "value": 1}}},
            error(
                "InvalidRequestException", "Cannot deliver message: Unsupported value type 'Nope'"
            ),
        ),
        (
            {"localCorrelationKeys": {"b": {"type": "Bytes", "value": "AAE="}}},
            error(
                "ProcessEngineException", "Variables of type ByteArray cannot be used to query", 0
            ),
        ),
        (
            {
                "correlationKeys": {
                    "f": {"type": "File", "value": "", "valueInfo": {"filename": "a"}}
                }
            },
            error("ProcessEngineException", "Variables of type File cannot be used to query", 0),
        ),
        ({"messageName": ""}, error("RestException", NO_MATCH.format(""), 0)),
    ]
    for extra, expected in cases:
        response = await client.post(MESSAGE, json={"messageName": "PaymentReceived", **extra})
        assert (response.status_code, response.json()) == (400, expected), extra
    assert (await store.instance_state(instance_id))[1] == 1


def _serve(store: Store, *models: ProcessModel) -> None:
    by_id = {f"{m.key}:1:x": m for m in models}

    async def lookup(definition_id: str) -> ProcessModel:
        return by_id[definition_id]

    store.models = lookup
