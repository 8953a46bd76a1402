"""Fuzzing every operation of the gateway with edge values: schemathesis generates each request
from the app's OpenAPI document, then Hypothesis replaces some of its values (body fields at
any depth, query parameters, path parameters) with values at the edges of what the wire and the
store accept: integers around 2^31, 2^53 and 2^63, durations beyond what dates express, huge
and tiny floats, empty, blank, control-character, long, LIKE-pattern, expression and
date-shaped strings, and the ids of real tasks, instances, definitions and deployments (so that
a request reaches the store, not just a 404). Whatever the input, the gateway never answers 5xx.

The store is seeded through the API first: a deployment, running instances, standalone tasks
fetchable, locked by worker ``w`` and in an incident. Operations are driven as in
test_schemathesis.py (``operation.as_strategy()`` against the live app).
``REDTASK_FUZZ_EXAMPLES`` (default 15) sets the examples per operation; the comment below
STRINGS lists the edge values it does not generate.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.python import asgi as schemathesis_asgi

from redtask.broker.settings import Settings
from redtask.gateway.app import create_app
from tests.gateway.test_schemathesis import OPERATIONS
from tests.worker.helpers import process_xml

API = "http://seed/engine-rest"
KEY, TOPIC = "fuzzproc", "fuzz"
LONG_POLL_CAP_MS = 50
EXAMPLES = int(os.environ.get("REDTASK_FUZZ_EXAMPLES", "15"))  # per operation

INTEGERS = [0, -1, 1, 2**31 - 1, 2**31, -(2**31) - 1, 2**53 + 1, 10**12, -(10**12)]
INTEGERS += [10**14, 10**15, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**30]
FLOATS = [0.5, -0.0, 1e308, -1e308, 5e-324, 1e15 + 0.5]
STRINGS = ["", " ", "\n", "\t\r", "a" * 256, "x" * 20_000, "%", "%%%%%%%%b", "_%_", "\\"]
STRINGS += ["é☃𝄞", "\u0000", "\u007f", "../..", "${x}", "#{1+1}", "null", "1e999", "-1"]
STRINGS += ["2026-13-45T99:99:99", "9999-12-31T23:59:59.999+0000", "0001-01-01T00:00:00.000Z"]
STRINGS += ["2026-01-01T00:00:00.000+9999"]
NAMES = [TOPIC, "w", KEY, "amount"]
SEEDED = {"topicName": TOPIC, "workerId": "w", "processDefinitionKey": KEY, "name": "amount"}


# Not generated here: a lone UTF-16 surrogate ("\ud800"; test_lone_surrogates.py covers bodies,
# and an HTTP client cannot put one in a path or query), a Double variable beyond float range and
# bodies nested hundreds of levels (test_bad_input_edges.py covers both).


INTEGER_VALUE = {"value": 1, "type": "Integer"}
QUERY = {"topicName": TOPIC, "workerId": "w", "locked": True, "businessKey": "b1"}
QUERY |= {"priorityHigherThanOrEquals": 0, "lockExpirationAfter": "2026-01-01T00:00:00.000+0000"}
QUERY |= {"sorting": [{"sortBy": "id", "sortOrder": "asc"}]}
INSTANCES = {"processDefinitionKey": KEY, "businessKey": "b1"}
INSTANCES |= {"variables": [{"name": "amount", "operator": "eq", "value": 1}]}
# Well-formed Camunda bodies that reach the seeded data: a case takes one half the time (the
# generator alone rarely produces a body that passes validation), then edges replace leaves.
TEMPLATES: dict[str, Any] = {
    "/external-task/fetchAndLock": {
        "workerId": "w",
        "maxTasks": 2,
        "usePriority": True,
        "asyncResponseTimeout": 0,
        "topics": [
            {"topicName": TOPIC, "lockDuration": 1_000},
            {
                "topicName": TOPIC,
                "lockDuration": 1_000,
                "businessKey": "b1",
                "processDefinitionVersionTag": "v",
                "processVariables": {"amount": 1},
            },
        ],
    },
    "/complete": {"workerId": "w", "variables": {"x": INTEGER_VALUE}, "localVariables": {}},
    "/failure": {
        "workerId": "w",
        "errorMessage": "m",
        "errorDetails": "d",
        "retries": 1,
        "retryTimeout": 1_000,
    },
    "/bpmnError": {"workerId": "w", "errorCode": "FAILED", "variables": {"x": INTEGER_VALUE}},
    "/lock": {"workerId": "w", "lockDuration": 1_000},
    "/extendLock": {"workerId": "w", "newDuration": 1_000},
    "/external-task": QUERY,
    "/external-task/count": QUERY,
    "/external-task/retries": {"retries": 2, "externalTaskIds": ["ID"]},
    "/external-task/retries-async": {"retries": 2, "externalTaskIds": ["ID"]},
    "/retries": {"retries": 2},
    "/priority": {"priority": 5},
    "/start": {"variables": {"amount": INTEGER_VALUE}, "businessKey": "b1"},
    "/process-instance": INSTANCES,
    "/process-instance/count": INSTANCES,
    "/history/process-instance": INSTANCES,
    "/history/process-instance/count": INSTANCES,
    "/variables": {"modifications": {"amount": INTEGER_VALUE}, "deletions": ["x"]},
    "/variables/{name}": INTEGER_VALUE,
    "/message": {"messageName": "m", "businessKey": "b1", "processVariables": {}},
    "/tasks": [{"variables": {"amount": INTEGER_VALUE}, "priority": 1, "businessKey": "b1"}],
}


def template_for(path: str) -> Any:
    """The template of the longest path suffix that has one (None: the operation has none)."""
    matches = [suffix for suffix in TEMPLATES if path.endswith(suffix)]
    return TEMPLATES[max(matches, key=len)] if matches else None


@pytest.fixture(scope="module", autouse=True)
def hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    set_hypothesis_home_dir(str(tmp_path_factory.mktemp("hypothesis")))


async def seed(settings: Settings) -> list[str]:
    """Deployment, instances and tasks in every state, created through the API; returns the
    ids a path parameter may take."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://seed") as client:
            deployed = await client.post(
                f"{API}/deployment/create",
                data={"deployment-name": "fuzz"},
                files={"data": ("fuzz.bpmn", process_xml(KEY, TOPIC), "application/xml")},
            )
            assert deployed.status_code == 200, deployed.text
            ids = [deployed.json()["id"]]
            ids += [d["id"] for d in deployed.json()["deployedProcessDefinitions"].values()]
            for number in range(3):
                started = await client.post(
                    f"{API}/process-definition/key/{KEY}/start",
                    json={"variables": {"amount": {"value": number, "type": "Integer"}}},
                )
                assert started.status_code == 200, started.text
                ids.append(started.json()["id"])
            published = await client.post(
                f"http://seed/redtask/topics/{TOPIC}/tasks",
                json=[{"businessKey": f"b{n}", "retries": 1} for n in range(300)],
            )
            assert published.status_code == 201, published.text
            ids += published.json()["ids"]
            fetched = await client.post(
                f"{API}/external-task/fetchAndLock",
                json={
                    "workerId": "w",
                    "maxTasks": 5,
                    "topics": [{"topicName": TOPIC, "lockDuration": 600_000}],
                },
            )
            assert fetched.status_code == 200, fetched.text
            failing = fetched.json()[0]["id"]
            failed = await client.post(
                f"{API}/external-task/{failing}/failure",
                json={"workerId": "w", "errorMessage": "boom", "retries": 0},
            )
            assert failed.status_code == 204, failed.text
            return ids


@pytest.fixture(scope="module")
def fuzzed(redis_url: str, hypothesis_home: None) -> Iterator[tuple[Any, list[str]]]:
    """The live app on its own seeded namespace, loaded from its /openapi.json, and the ids."""
    namespace = f"edge{uuid.uuid4().hex[:12]}"
    settings = Settings(
        namespace=namespace, partitions=2, redis_url=redis_url, data_dir=Path("unused")
    )
    ids = asyncio.run(seed(settings))
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", create_app(settings)), ids
    finally:
        schemathesis_asgi.shutdown_lifespans()
        client = redis.Redis.from_url(redis_url)
        try:
            keys = list(client.scan_iter(match=f"*{namespace}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


def edge_for(value: Any, ids: list[str]) -> st.SearchStrategy[Any]:
    """An edge value of the same JSON type as ``value`` (any type for null and booleans); a
    string is as often a seeded id or name as an edge string, so requests reach real data."""
    strings = st.sampled_from(STRINGS) | st.sampled_from(ids) | st.sampled_from(NAMES)
    if isinstance(value, bool) or value is None:
        return st.sampled_from([*INTEGERS, *FLOATS, None, True, False]) | strings
    if isinstance(value, int):
        return st.sampled_from(INTEGERS)
    if isinstance(value, float):
        return st.sampled_from(FLOATS + INTEGERS)
    return strings


def mutate(data: st.DataObject, value: Any, ids: list[str], key: str = "") -> Any:
    """``value`` with some of its leaves (at any depth) replaced by edge values; a field that
    names a topic, worker, definition key or variable takes the seeded name half the time."""
    if isinstance(value, dict):
        return {k: mutate(data, v, ids, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mutate(data, v, ids, key) for v in value]
    if key in SEEDED and data.draw(st.booleans()):
        return SEEDED[key]
    if data.draw(st.booleans()):
        edge = data.draw(edge_for(value, ids))
        return edge
    return value


def _short_long_polls(body: Any) -> None:
    """Generated long polls wait at most 50 ms (long polling is tested elsewhere)."""
    if not isinstance(body, dict):
        return
    timeout = body.get("asyncResponseTimeout")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float | str):
        return
    try:
        long = float(timeout) > LONG_POLL_CAP_MS
    except ValueError:
        return
    if long:
        body["asyncResponseTimeout"] = LONG_POLL_CAP_MS


@pytest.mark.slow
@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_no_request_with_edge_values_gets_a_server_error(
    fuzzed: tuple[Any, list[str]], path: str, method: str
) -> None:
    api_schema, ids = fuzzed
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(), data=st.data())
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: Any, data: st.DataObject) -> None:
        if case.path_parameters:
            case.path_parameters = {
                name: data.draw(st.just(value) | edge_for("", ids))
                for name, value in case.path_parameters.items()
            }
        if case.query:
            case.query = mutate(data, case.query, ids)
        template = template_for(path)
        if method in ("POST", "PUT") and template is not None and data.draw(st.booleans()):
            case.body = json.loads(json.dumps(template).replace('"ID"', json.dumps(ids[-1])))
        if isinstance(case.body, dict | list):
            case.body = mutate(data, case.body, ids)
            _short_long_polls(case.body)
        response = case.call(timeout=10)
        assert response.status_code < 500, (
            case.method,
            case.formatted_path,
            case.query,
            repr(case.body)[:2000],
            response.text[:2000],
        )

    call()
