"""The workers of examples/order.bpmn: ``redtask worker examples.order_worker:worker``.

Each handler asks for the process variables it needs by parameter name and returns the
variables to set. ``reserve`` is a plain function (it runs in a thread pool), the shipping
handlers are coroutines (they run on the event loop); ``reserve`` throws the BPMN error
OUT_OF_STOCK for an order larger than the stock, which ends the order at "Order rejected".
"""

from __future__ import annotations

import asyncio
import uuid

from redtask import BpmnError, TaskFailure, Worker

PRICES = {"book": 12.5, "lamp": 40.0, "chair": 95.0}
STOCK = {"book": 100, "lamp": 10, "chair": 4}

worker = Worker(lock_duration=10_000, retries=2)


@worker.task("reserve-stock")
def reserve(item: str, quantity: int, express: bool = False) -> dict[str, object]:
    """Reserve ``quantity`` of ``item``; sets ``total`` and ``express`` (default false)."""
    if item not in PRICES:
        # not worth retrying: no retries left, so an incident shows the order to an operator
        raise TaskFailure(f"unknown item {item!r}", retries=0)
    if quantity > STOCK[item]:
        raise BpmnError("OUT_OF_STOCK", f"{item}: only {STOCK[item]} in stock")
    return {"total": PRICES[item] * quantity, "express": express}


@worker.task("ship-express")
async def ship_express(item: str, quantity: int) -> dict[str, object]:
    await asyncio.sleep(0.05)  # e.g. a courier's booking API
    return {"carrier": "courier", "tracking": f"EX-{uuid.uuid4().hex[:8]}"}


@worker.task("ship-standard")
async def ship_standard(item: str, quantity: int) -> dict[str, object]:
    return {"carrier": "post", "tracking": f"PO-{uuid.uuid4().hex[:8]}"}
