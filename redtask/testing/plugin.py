"""The pytest plugin of ``redtask[testing]`` (entry point ``pytest11``: ``redtask``).

Fixtures:

- ``redtask_broker``: a fresh :class:`~redtask.testing.TestBroker` on its own in-memory Redis,
  closed after the test. ``@pytest.mark.redtask(partitions=4, history_ttl_s=60, start=...)``
  passes settings (and the clock's start) to it. With ``--redtask-redis-url URL`` (or the ini
  option ``redtask_redis_url``) it runs on that Redis instead, in a namespace of its own whose
  keys are deleted after the test.
- ``redtask_worker``: ``redtask_worker(worker_or_router)`` gives a
  :class:`~redtask.testing.TestWorker` running those handlers against ``redtask_broker``.
- ``redtask_process``: ``await redtask_process("order.bpmn", {"item": "book"}, business_key=...)``
  deploys the file (once per test) and starts its process (``key=`` when it holds several).

The async fixtures need pytest-asyncio (a dependency of ``redtask[testing]``); tests using them
are coroutines (``asyncio_mode = "auto"``, or ``@pytest.mark.asyncio``). This module imports only
pytest at start-up, so having redtask installed without the extra changes no pytest run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from redtask.testing import ProcessInstance, TestBroker, TestWorker
    from redtask.worker.router import Router

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - depends on the installed extras
    pytest_asyncio = None  # type: ignore[assignment]


def pytest_addoption(parser: pytest.Parser) -> None:
    help_text = (
        "run the redtask_broker fixture on this Redis (redis://host:port/db) instead of an "
        "in-memory one: a namespace per test, its keys deleted afterwards"
    )
    parser.getgroup("redtask").addoption("--redtask-redis-url", default=None, help=help_text)
    parser.addini("redtask_redis_url", help_text, default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "redtask(**settings): settings of the redtask_broker fixture (e.g. partitions=4, "
        "history_ttl_s=60, start=datetime(...))",
    )


async def _broker(request: pytest.FixtureRequest) -> AsyncIterator[TestBroker]:
    from redtask.testing import TestBroker

    marker = request.node.get_closest_marker("redtask")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    start = options.pop("start", None)
    config = request.config
    url = config.getoption("redtask_redis_url") or config.getini("redtask_redis_url")
    if not url:
        broker = TestBroker.in_memory(start=start, **options)
        try:
            yield broker
        finally:
            await broker.aclose()
        return
    from redtask.broker.connection import client_for
    from redtask.testing import TestSettings

    settings = TestSettings(namespace=f"redtask-test-{uuid.uuid4().hex[:12]}", **options)
    broker = TestBroker(client_for(str(url)), settings, start=start)
    try:
        yield broker
    finally:
        try:
            await broker.delete_namespace()
        finally:
            await broker.aclose()


if pytest_asyncio is not None:
    redtask_broker = pytest_asyncio.fixture(_broker, name="redtask_broker")
else:  # pragma: no cover - depends on the installed extras

    @pytest.fixture(name="redtask_broker")
    def _missing_asyncio() -> None:
        pytest.fail(
            "the redtask_broker fixture needs pytest-asyncio: pip install 'redtask[testing]'"
        )


@pytest.fixture
def redtask_worker(redtask_broker: TestBroker) -> Callable[..., TestWorker]:
    """``redtask_worker(handlers, worker_id=..., use_priority=...)``: a TestWorker."""

    def make(handlers: Router, **options: Any) -> TestWorker:
        return redtask_broker.worker(handlers, **options)

    return make


@pytest.fixture
def redtask_process(
    redtask_broker: TestBroker,
) -> Callable[..., Awaitable[ProcessInstance]]:
    """``await redtask_process(path, variables=None, *, key=None, business_key=None)``."""

    async def start(
        path: str | os.PathLike[str],
        variables: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        business_key: str | None = None,
    ) -> ProcessInstance:
        definitions = await redtask_broker.deploy_once(path)
        if key is None:
            keys = sorted({d.key for d in definitions})
            if len(keys) != 1:
                raise ValueError(f"{path} holds the processes {keys}: pass key=")
            key = keys[0]
        return await redtask_broker.start(key, variables, business_key=business_key)

    return start
