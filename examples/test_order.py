"""Tests of the order process (order.bpmn) and its workers (order_worker.py) with redtask's test
kit: the real broker on an in-memory Redis, no server. ``pytest examples/test_order.py``

The fixtures come from redtask's pytest plugin (``pip install 'redtask[testing]'``):
``redtask_process`` deploys a BPMN file and starts it, ``redtask_worker`` runs a worker's
handlers in-process, ``redtask_broker`` is the broker (its clock, its assertions).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from examples.order_worker import worker
from redtask import Backoff, Router
from redtask.testing import ProcessInstance, TestBroker, TestWorker

ORDER = Path(__file__).with_name("order.bpmn")
StartProcess = Callable[..., Awaitable[ProcessInstance]]
MakeWorker = Callable[..., TestWorker]


async def test_an_order_ships_by_post(
    redtask_broker: TestBroker, redtask_process: StartProcess, redtask_worker: MakeWorker
) -> None:
    order = await redtask_process(ORDER, {"item": "book", "quantity": 2}, business_key="A-1")
    (await redtask_broker.instance(order)).is_waiting_at("reserve_stock")
    (await redtask_broker.topic("reserve-stock")).has_tasks(1, state="available")

    handled = await redtask_worker(worker).run_until_idle()

    assert [(h.topic, h.outcome) for h in handled] == [
        ("reserve-stock", "completed"),
        ("ship-standard", "completed"),
    ]
    (await redtask_broker.instance(order)).is_completed().ended_at(
        "order_shipped"
    ).has_passed_in_order("reserve_stock", "express_choice", "ship_standard").has_not_passed(
        "ship_express", "out_of_stock"
    ).has_variables("tracking", carrier="post", total=25.0, express=False)


async def test_an_express_order_ships_by_courier(
    redtask_broker: TestBroker, redtask_process: StartProcess, redtask_worker: MakeWorker
) -> None:
    order = await redtask_process(ORDER, {"item": "chair", "quantity": 1, "express": True})
    runner = redtask_worker(worker)

    await runner.step()  # reserve-stock only
    (await redtask_broker.instance(order)).is_waiting_only_at("ship_express").has_variables(
        total=95.0
    )
    await runner.step()

    (await redtask_broker.instance(order)).ended_at("order_shipped").has_passed(
        "ship_express"
    ).has_variables(carrier="courier")


async def test_an_order_beyond_the_stock_is_rejected_by_the_boundary_error(
    redtask_broker: TestBroker, redtask_process: StartProcess, redtask_worker: MakeWorker
) -> None:
    order = await redtask_process(ORDER, {"item": "lamp", "quantity": 50})

    [handled] = await redtask_worker(worker).run_until_idle()

    assert (handled.outcome, handled.error_code) == ("bpmn_error", "OUT_OF_STOCK")
    (await redtask_broker.instance(order)).ended_at("order_rejected").has_passed(
        "out_of_stock"
    ).has_not_passed("express_choice").has_variables(rejection="lamp: only 10 in stock")


async def test_an_unknown_item_raises_an_incident_at_once(
    redtask_broker: TestBroker, redtask_process: StartProcess, redtask_worker: MakeWorker
) -> None:
    order = await redtask_process(ORDER, {"item": "sofa", "quantity": 1})

    [handled] = await redtask_worker(worker).run_until_idle()

    assert (handled.outcome, handled.retries) == ("failed", 0)
    (await redtask_broker.instance(order)).is_waiting_at("reserve_stock").has_incident(
        "unknown item 'sofa'", activity="reserve_stock"
    )
    (await redtask_broker.topic("reserve-stock")).has_tasks(1, state="incident")
    (await redtask_broker.incidents()).has_count(1)


async def test_a_failed_shipment_is_retried_after_its_backoff(
    redtask_broker: TestBroker, redtask_process: StartProcess, redtask_worker: MakeWorker
) -> None:
    post = Router(retries=2, backoff=Backoff(initial_ms=60_000, jitter=0))
    attempts: list[str] = []

    @post.task("ship-standard")
    def ship(item: str) -> dict[str, object]:
        attempts.append(item)
        if len(attempts) == 1:
            raise ConnectionError("post office closed")
        return {"carrier": "post"}

    order = await redtask_process(ORDER, {"item": "book", "quantity": 1})
    await redtask_worker(worker).step("reserve-stock")
    shipping = redtask_worker(post)

    [failed] = await shipping.run_until_idle()
    assert (failed.outcome, failed.retries, failed.retry_timeout_ms) == ("failed", 2, 60_000)
    (await redtask_broker.task(instance=order)).is_retrying().has_failed(
        retries_left=2, message="ConnectionError: post office closed"
    )

    await redtask_broker.advance(59)
    assert await shipping.run_until_idle() == []  # the back-off is not over
    await redtask_broker.advance(1)
    [shipped] = await shipping.run_until_idle()

    assert shipped.outcome == "completed"
    assert attempts == ["book", "book"]
    (await redtask_broker.instance(order)).ended_at("order_shipped").has_variables(carrier="post")
