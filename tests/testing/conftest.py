"""The backends of the parity tests (tests/testing/test_parity_*.py): ``backend`` is a fresh
in-memory server (fakeredis) or the session's redis-server of tests/conftest.py, in a namespace
of its own; ``make_kit`` makes test brokers on it and deletes their keys afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from redtask.broker.connection import client_for
from redtask.testing import TestBroker, TestSettings
from tests.testing.parity_helpers import START, MakeKit


@pytest.fixture(params=["fakeredis", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_kit(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[MakeKit]:
    url = str(request.getfixturevalue("redis_url")) if backend == "redis" else None
    made: list[TestBroker] = []

    def make(**settings: Any) -> TestBroker:
        if url is None:
            kit = TestBroker.in_memory(start=START, **settings)
        else:
            settings = {"namespace": f"t{uuid.uuid4().hex[:12]}", **settings}
            kit = TestBroker(client_for(url), TestSettings(**settings), start=START)
        made.append(kit)
        return kit

    yield make
    for kit in made:
        if url is not None:
            client = kit.store.redis
            pattern = f"*{kit.settings.namespace}*"
            keys = [k async for k in client.scan_iter(match=pattern, count=1000)]
            if keys:
                await client.delete(*keys)
        await kit.aclose()


@pytest.fixture
def kit(make_kit: MakeKit) -> TestBroker:
    return make_kit()
