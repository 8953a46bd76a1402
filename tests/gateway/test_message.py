"""POST /message: correlation by name and business key, Camunda's errors and results."""

from __future__ import annotations

from pathlib import Path

import httpx

from broker.bpmn import ProcessModel, parse_bpmn
from broker.store import Store

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
            "org.camunda.bpm.engine.MismatchingMessageCorrelationException: Cannot correlate "
            "message 'PaymentReceived': 2 executions match the correlation keys",
            0,
        ),
    ]
    for body, kind, message, code in cases:
        response = await client.post(MESSAGE, json=body)
        assert response.status_code == 400, body
        assert response.json() == {"type": kind, "message": message, "code": code}
    all_response = await client.post(MESSAGE, json={"messageName": "PaymentReceived", "all": True})
    assert all_response.status_code == 204
