"""Bad input that used to answer 500: bodies nested hundreds of levels deep, a Double beyond
float range, a 5,000-digit number in a deployed condition, and topic expressions computing a
topic no worker could fetch. Each is a 400 and stores nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.helpers import API, ET, error, fetch_body, one_task_process, topic

MALFORMED = error("InvalidRequestException", "", None)


def nested(levels: int) -> Any:
    """A value of ``levels`` nested objects."""
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


def depth(value: Any) -> int:
    if isinstance(value, dict):
        value = list(value.values())
    return 1 + max(map(depth, value), default=0) if isinstance(value, list) else 0


async def keys_of(store) -> list[bytes]:
    return sorted([k async for k in store.redis.scan_iter(match=f"*{store.settings.namespace}*")])


def deep_bodies(value: Any) -> list[tuple[str, str, Any]]:
    condition = [{"name": "x", "operator": "eq", "value": value}]
    return [
        ("POST", f"{ET}/fetchAndLock", fetch_body(topic("t", processVariables={"x": value}))),
        ("POST", ET, {"processVariables": condition}),
        ("POST", f"{API}/process-instance", {"variables": condition}),
        ("POST", f"{API}/message", {"messageName": "m", "correlationKeys": {"x": value}}),
        ("POST", "/redtask/topics/t/tasks", {"variables": {"j": {"type": "Json", "value": value}}}),
    ]


@pytest.mark.parametrize("index", range(5))
@pytest.mark.parametrize("levels", [101, 300])
async def test_a_body_nested_deeper_than_100_levels_is_malformed(client, store, index, levels):
    _, _, around = deep_bodies(1)[index]
    method, path, body = deep_bodies(nested(levels - depth(around)))[index]
    assert depth(body) == levels
    before = await keys_of(store)

    response = await client.request(method, path, json=body)

    assert (response.status_code, response.json()) == (400, MALFORMED)
    assert await keys_of(store) == before


@pytest.mark.parametrize("levels", [1100, 100_000])
async def test_a_body_nested_beyond_any_parser_is_malformed(client, levels):
    body = b'{"workerId": "w", "maxTasks": 1, "topics": [], "x": ' + b"[" * levels + b"]" * levels
    response = await client.post(
        f"{ET}/fetchAndLock", content=body + b"}", headers={"content-type": "application/json"}
    )

    assert (response.status_code, response.json()) == (400, MALFORMED)


async def test_a_filter_nested_100_levels_deep_is_read(client, publish):
    await publish("t")
    body = fetch_body(topic("t", processVariables={"x": nested(96)}))
    assert depth(body) == 100

    response = await client.post(f"{ET}/fetchAndLock", json=body)

    assert (response.status_code, response.json()) == (200, [])


async def test_a_double_beyond_float_range_is_a_400(client, store):
    value = "1" + "0" * 400
    body = b'{"variables": {"d": {"type": "Double", "value": ' + value.encode() + b"}}}"

    response = await client.post(
        "/redtask/topics/t/tasks", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    message = f"Cannot convert value '{value}' of type 'Double' to java type java.lang.Double"
    assert response.json() == error("InvalidRequestException", message, None)
    assert await keys_of(store) == []


async def deploy(client, xml: bytes):
    files = {"data": ("p.bpmn", xml, "application/xml")}
    return await client.post(f"{API}/deployment/create", files=files)


async def test_a_condition_with_a_5000_digit_number_fails_the_deployment(client):
    xml = one_task_process("p", "t", 0).replace(
        b'camunda:taskPriority="0"', b'camunda:taskPriority="${' + b"7" * 5000 + b'}"'
    )

    response = await deploy(client, xml)

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "ParseException"
    assert "number literal longer than 100 characters at position 2" in body["message"]


@pytest.mark.parametrize(
    ("computed", "why"),
    [
        ("", "topicName is null"),
        ("a\nb", "topic name 'a\\nb' contains control characters"),
        ("x" * 256, "topic name is longer than 255 characters"),
    ],
    ids=["empty", "newline", "256 characters"],
)
async def test_a_topic_expression_computing_an_unfetchable_topic_fails_the_start(
    client, store, computed, why
):
    assert (await deploy(client, one_task_process("p", "${t}", 0))).status_code == 200
    definition_id = (await client.get(f"{API}/process-definition/key/p")).json()["id"]
    before = await keys_of(store)
    variables = {"t": {"type": "String", "value": computed}}

    response = await client.post(
        f"{API}/process-definition/key/p/start", json={"variables": variables}
    )

    assert response.status_code == 400
    message = (
        f"Cannot instantiate process definition {definition_id}: "
        f"Cannot evaluate the topic of 'work': {why}"
    )
    assert response.json() == error("RestException", message, 0)
    assert await keys_of(store) == before
    assert (await client.get(f"{ET}/count")).json() == {"count": 0}


async def test_a_topic_expression_computing_a_bad_topic_on_completion_keeps_the_task(client, store):
    second = (
        b'<bpmn:serviceTask id="second" camunda:type="external" camunda:topic="${t}" />'
        b'<bpmn:sequenceFlow id="f3" sourceRef="second" targetRef="end" />'
    )
    xml = (
        one_task_process("p", "first", 0)
        .replace(b'sourceRef="work" targetRef="end"', b'sourceRef="work" targetRef="second"')
        .replace(b'<bpmn:endEvent id="end" />', second + b'<bpmn:endEvent id="end" />')
    )
    assert (await deploy(client, xml)).status_code == 200
    started = await client.post(f"{API}/process-definition/key/p/start", json={})
    assert started.status_code == 200
    [task] = (await client.post(f"{ET}/fetchAndLock", json=fetch_body(topic("first")))).json()
    variables = {"t": {"type": "String", "value": ""}}

    response = await client.post(
        f"{ET}/{task['id']}/complete", json={"workerId": "w", "variables": variables}
    )

    assert response.status_code == 400
    message = "Cannot evaluate the topic of 'second': topicName is null"
    assert response.json() == error("ProcessEngineException", message, 0)
    [still] = (await client.get(ET)).json()
    assert (still["id"], still["workerId"]) == (task["id"], "w")
