"""A process of several constructs (parallel fork and join, an error boundary event, exclusive
gateways) worked end to end by the worker SDK over its REST transport, against a real gateway
process and Redis: which handlers ran in which order, the variables the last task saw, and how
each instance ended.

The gateway runs once per module (as in tests/worker); each test deploys bpmn/order_constructs.bpmn
with topics of its own, so nothing another test left behind reaches its worker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from redtask.worker import BpmnError, ExternalTask, Worker
from redtask.worker.transport.rest import RestTransport
from tests.processes import gateway_process, redtask_env
from tests.worker.helpers import eventually, running

BPMN = Path(__file__).resolve().parent / "bpmn" / "order_constructs.bpmn"


@pytest.fixture(scope="module")
def api(redis_url: str) -> Iterator[str]:
    env = redtask_env(redis_url, f"s{uuid.uuid4().hex[:12]}", partitions=2)
    with gateway_process(env) as url:
        yield f"{url}/engine-rest"


@pytest.fixture
async def rest(api: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api, timeout=10) as http:
        yield http


@pytest.fixture
def tag() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


async def deploy(rest: httpx.AsyncClient, tag: str) -> None:
    """Deploy the order process with its topics renamed from sdk-* to <tag>-*."""
    content = BPMN.read_bytes().replace(b'camunda:topic="sdk-', f'camunda:topic="{tag}-'.encode())
    response = await rest.post(
        "/deployment/create",
        data={"deployment-name": tag},
        files={"data": ("order_constructs.bpmn", content, "application/xml")},
    )
    assert response.status_code == 200, response.text


async def start_order(rest: httpx.AsyncClient, **variables: Any) -> str:
    typed = {
        name: {"value": value, "type": "Boolean" if isinstance(value, bool) else "Integer"}
        for name, value in variables.items()
    }
    response = await rest.post("/process-definition/key/sdk_order/start", json={"variables": typed})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def state_of(rest: httpx.AsyncClient, instance_id: str) -> str:
    response = await rest.get(f"/history/process-instance/{instance_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["state"])


async def all_completed(rest: httpx.AsyncClient, instance_ids: list[str]) -> bool:
    return all([await state_of(rest, i) == "COMPLETED" for i in instance_ids])


class Orders:
    """The order process's handlers on one SDK worker. ``handled`` records each call as
    (instance id, activity id); ``last_seen`` the variables the shipping task got, per instance."""

    def __init__(self, api: str, tag: str, concurrency: int) -> None:
        self.handled: list[tuple[str, str]] = []
        self.last_seen: dict[str, dict[str, Any]] = {}
        self.worker = Worker(
            RestTransport(api), concurrency=concurrency, poll_timeout=1_000, grace=5
        )
        task = self.worker.task
        task(f"{tag}-reserve")(self.reserve)
        task(f"{tag}-backorder")(self.backorder)
        task(f"{tag}-charge")(self.charge)
        task(f"{tag}-courier")(self.ship)
        task(f"{tag}-post")(self.ship)

    def record(self, task: ExternalTask) -> None:
        assert task.process_instance_id is not None and task.activity_id is not None
        self.handled.append((task.process_instance_id, task.activity_id))

    def reserve(self, task: ExternalTask, quantity: int, stock: int) -> dict[str, Any]:
        self.record(task)
        if quantity > stock:
            raise BpmnError("OUT_OF_STOCK", f"only {stock} left", {"missing": quantity - stock})
        return {"reserved": quantity}

    def backorder(self, task: ExternalTask, missing: int) -> dict[str, Any]:
        self.record(task)
        return {"backordered": missing}

    def charge(self, task: ExternalTask, total: int) -> dict[str, Any]:
        self.record(task)
        return {"charged": total}

    def ship(self, task: ExternalTask) -> dict[str, Any]:
        self.record(task)
        assert task.process_instance_id is not None
        self.last_seen[task.process_instance_id] = task.variables
        return {"carrier": task.activity_id}

    def path_of(self, instance_id: str) -> list[str]:
        return [activity for instance, activity in self.handled if instance == instance_id]


async def test_one_task_at_a_time_follows_priorities_through_fork_error_and_join(
    api: str, rest: httpx.AsyncClient, tag: str
) -> None:
    await deploy(rest, tag)
    order = await start_order(rest, quantity=5, stock=3, total=150, express=True)
    orders = Orders(api, tag, concurrency=1)

    async with running(orders.worker):
        await eventually(lambda: all_completed(rest, [order]), timeout=10)

    # reserve (20) before charge (10); its error creates backorder (30), which goes before
    # charge; the join waits for both branches; express and over 100: courier
    assert orders.handled == [
        (order, "reserve"),
        (order, "backorder"),
        (order, "charge"),
        (order, "courier"),
    ]
    assert orders.last_seen == {
        order: {
            "quantity": 5,
            "stock": 3,
            "total": 150,
            "express": True,
            "missing": 2,  # the BPMN error's variables
            "stockError": "OUT_OF_STOCK",  # the boundary event's code and message variables
            "stockMessage": "only 3 left",
            "backordered": 2,
            "charged": 150,
        }
    }


async def test_concurrent_orders_each_take_the_path_their_variables_choose(
    api: str, rest: httpx.AsyncClient, tag: str
) -> None:
    await deploy(rest, tag)
    express = await start_order(rest, quantity=2, stock=5, total=150, express=True)
    cheap = await start_order(rest, quantity=2, stock=5, total=50, express=True)
    short = await start_order(rest, quantity=9, stock=5, total=500, express=False)
    orders = Orders(api, tag, concurrency=4)

    async with running(orders.worker):
        await eventually(lambda: all_completed(rest, [express, cheap, short]), timeout=10)

    assert sorted(orders.handled) == sorted(
        [(express, a) for a in ("reserve", "charge", "courier")]
        + [(cheap, a) for a in ("reserve", "charge", "post")]
        + [(short, a) for a in ("reserve", "backorder", "charge", "post")]
    )
    # the branches of one order may run in either order; the shipping task comes after both
    for instance, last in ((express, "courier"), (cheap, "post"), (short, "post")):
        path = orders.path_of(instance)
        assert path[-1] == last, path
    short_path = orders.path_of(short)
    assert short_path.index("reserve") < short_path.index("backorder"), short_path

    in_stock = {"stock": 5, "reserved": 2, "express": True, "quantity": 2}
    assert orders.last_seen == {
        express: {**in_stock, "total": 150, "charged": 150},
        cheap: {**in_stock, "total": 50, "charged": 50},  # express, but not over 100
        short: {
            "quantity": 9,
            "stock": 5,
            "total": 500,
            "express": False,
            "missing": 4,
            "stockError": "OUT_OF_STOCK",
            "stockMessage": "only 5 left",
            "backordered": 4,
            "charged": 500,
        },
    }
