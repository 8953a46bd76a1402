"""Property-based fuzzing of the app's own OpenAPI document with schemathesis: whatever the
generated input (valid or not), the gateway never answers 5xx.

schemathesis' lazy pytest loader (``schemathesis.pytest.from_fixture``) does not run under the
installed pytest 9 (it sets ``Node._nodeid``, which pytest 9 no longer has), so the operations
are parametrized from the app's static OpenAPI document and each one is driven with
``operation.as_strategy()`` and Hypothesis against the live app.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi as schemathesis_asgi

from redtask.broker.settings import Settings
from redtask.gateway.app import create_app

LONG_POLL_CAP_MS = 50  # keep generated long polls short; long polling is tested elsewhere

# The document only: building the app connects to nothing until its lifespan runs.
_DOCUMENT = create_app(Settings(namespace="openapi", data_dir=Path("unused"))).openapi()
OPERATIONS = [
    (path, method.upper())
    for path, item in _DOCUMENT["paths"].items()
    for method in item
    if method in ("get", "put", "post", "delete", "patch")
]


@pytest.fixture(scope="module", autouse=True)
def hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Hypothesis keeps caches in .hypothesis/ of the working directory; keep them in tmp."""
    set_hypothesis_home_dir(str(tmp_path_factory.mktemp("hypothesis")))


@pytest.fixture(scope="module")
def api_schema(redis_url: str, hypothesis_home: None) -> Iterator[Any]:
    """The live app on its own namespace and store (opened by its lifespan, which schemathesis
    runs in its event-loop thread), loaded from its /openapi.json."""
    namespace = f"fuzz{uuid.uuid4().hex[:12]}"
    settings = Settings(
        namespace=namespace, partitions=1, redis_url=redis_url, data_dir=Path("unused")
    )
    app = create_app(settings)
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        schemathesis_asgi.shutdown_lifespans()
        client = redis.Redis.from_url(redis_url)
        try:
            keys = list(client.scan_iter(match=f"*{namespace}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


def _shorten_long_polls(case: Any) -> None:
    body = case.body
    if not (isinstance(body, dict) and case.path.endswith("/fetchAndLock")):
        return
    try:
        timeout = int(body.get("asyncResponseTimeout"))  # numeric strings are coerced too
    except (TypeError, ValueError):
        return
    if LONG_POLL_CAP_MS < timeout <= 1_800_000:
        body["asyncResponseTimeout"] = LONG_POLL_CAP_MS


def test_the_document_has_operations_to_fuzz():
    assert ("/engine-rest/external-task/fetchAndLock", "POST") in OPERATIONS
    assert len(OPERATIONS) >= 19


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_no_generated_request_gets_a_server_error(api_schema, path, method):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @hypothesis_settings(
        max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def call(case: Any) -> None:
        _shorten_long_polls(case)
        response = case.call_and_validate(checks=[not_a_server_error], timeout=10)
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)

    call()
