"""A lone UTF-16 surrogate (JSON ``"\\ud800"``) in any string of any JSON body is refused where
the body is decoded, with the 400 Camunda gives a malformed body, before any route runs: no
endpoint answers 500 and nothing is stored. Surrogate pairs and escaped backslashes pass."""

from __future__ import annotations

import pytest

from tests.gateway.helpers import API, ET, error

LONE = "\\ud800"  # the JSON escape, written into the body as is


def with_lone_surrogate(field: str) -> bytes:
    """A body every route would read: the lone surrogate in ``field`` (a string or a name)."""
    s = f'"{LONE}"'
    fields = {
        "workerId": s,
        "businessKey": s,
        "tenantId": s,
        "errorMessage": s,
        "errorDetails": s,
        "errorCode": s,
        "messageName": s,
        "topicName": s,
        "variables": f'{{"v": {{"type": "String", "value": {s}}}}}',
        "names": f'{{{s}: {{"type": "String", "value": "x"}}}}',
    }
    body = {name: '"x"' for name in fields} | {field: fields[field]}
    body["topics"] = f'[{{"topicName": {body["topicName"]}, "lockDuration": 1000}}]'
    body["retries"] = "1"
    body["maxTasks"] = "1"
    body["lockDuration"] = "1000"
    body["externalTaskIds"] = '["x"]'
    body["processVariables"] = body.pop("names")
    text = ", ".join(f'"{name}": {value}' for name, value in body.items())
    return ("{" + text + "}").encode()


ENDPOINTS = [
    ("POST", "/redtask/topics/t/tasks"),
    ("POST", f"{ET}/fetchAndLock"),
    ("POST", f"{ET}/x/complete"),
    ("POST", f"{ET}/x/failure"),
    ("POST", f"{ET}/x/bpmnError"),
    ("POST", f"{ET}/x/lock"),
    ("POST", f"{ET}/x/extendLock"),
    ("POST", ET),
    ("POST", f"{ET}/count"),
    ("PUT", f"{ET}/retries"),
    ("POST", f"{ET}/retries-async"),
    ("PUT", f"{ET}/x/retries"),
    ("PUT", f"{ET}/x/priority"),
    ("PUT", f"{API}/job/x/retries"),
    ("POST", f"{API}/process-definition/key/k/start"),
    ("POST", f"{API}/process-definition/key/k/tenant-id/t/start"),
    ("POST", f"{API}/process-definition/x/start"),
    ("POST", f"{API}/process-instance"),
    ("POST", f"{API}/process-instance/count"),
    ("POST", f"{API}/process-instance/x/variables"),
    ("PUT", f"{API}/process-instance/x/variables/v"),
    ("POST", f"{API}/history/process-instance"),
    ("POST", f"{API}/history/process-instance/count"),
    ("POST", f"{API}/history/activity-instance"),
    ("POST", f"{API}/history/activity-instance/count"),
    ("POST", f"{API}/history/external-task-log"),
    ("POST", f"{API}/history/external-task-log/count"),
    ("POST", f"{API}/history/variable-instance"),
    ("POST", f"{API}/history/variable-instance/count"),
    ("POST", f"{API}/message"),
    ("POST", f"{API}/engine/default/message"),
    ("POST", f"{API}/signal"),
    ("POST", f"{API}/execution/x/signal"),
]
FIELDS = ["workerId", "businessKey", "tenantId", "errorMessage", "messageName", "variables"]
MALFORMED = error("InvalidRequestException", "", None)
JSON = {"content-type": "application/json"}


async def keys_of(store) -> list[bytes]:
    return sorted([k async for k in store.redis.scan_iter(match=f"*{store.settings.namespace}*")])


def test_every_json_endpoint_of_the_api_is_covered(app):
    spec = app.openapi()
    with_body = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation and not path.startswith(f"{API}/engine/default")
    }
    covered = {(m, p.replace("/x/", "/{id}/").replace("/k/", "/{key}/")) for m, p in ENDPOINTS}
    covered |= {("POST", "/redtask/topics/{topic}/tasks")}
    covered |= {("POST", f"{API}/process-definition/key/{{key}}/tenant-id/{{tenant_id}}/start")}
    covered |= {("PUT", f"{API}/process-instance/{{id}}/variables/{{name}}")}
    assert with_body <= covered


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_a_lone_surrogate_in_any_string_is_a_400_and_stores_nothing(
    client, store, method, path, field
):
    before = await keys_of(store)
    body = with_lone_surrogate(field)

    response = await client.request(method, path, content=body, headers=JSON)

    assert response.status_code == 400
    assert response.json() == MALFORMED
    assert await keys_of(store) == before


@pytest.mark.parametrize(
    "raw",
    [
        b'{"workerId": "\\ud800", "maxTasks": 1, "topics": []}',
        b'{"workerId": "\\uDFFF", "maxTasks": 1, "topics": []}',
        b'{"workerId": "\\ud83d", "maxTasks": 1, "topics": []}',  # a high one without its pair
        b'{"workerId": "\xed\xa0\x80", "maxTasks": 1, "topics": []}',  # encoded, not escaped
        b'{"workerId": "w", "maxTasks": 1, "topics": [], "x": ["\\udc00"]}',  # an unread field
    ],
)
async def test_every_spelling_of_a_lone_surrogate_is_refused(client, raw):
    response = await client.post(f"{ET}/fetchAndLock", content=raw, headers=JSON)

    assert response.status_code == 400
    assert response.json() == MALFORMED


@pytest.mark.parametrize(
    "worker",
    [b"\\ud83d\\ude00", b"\\\\ud800", b"\xf0\x9f\x98\x80", b"\\u00e9"],
    ids=["escaped pair", "escaped backslash", "encoded emoji", "latin"],
)
async def test_surrogate_pairs_and_escaped_backslashes_are_ordinary_strings(client, worker):
    body = b'{"workerId": "' + worker + b'", "maxTasks": 1, "topics": []}'

    response = await client.post(f"{ET}/fetchAndLock", content=body, headers=JSON)

    assert (response.status_code, response.json()) == (200, [])


async def test_a_deployment_upload_is_not_read_as_json(client):
    files = {"data": ("p.bpmn", b"<definitions \\ud800/>", "application/xml")}

    response = await client.post(f"{API}/deployment/create", files=files)

    assert response.status_code == 400
    assert response.json()["type"] == "ParseException"
