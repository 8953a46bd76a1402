"""redtask.testing: test workers and BPMN processes without a server.

``TestBroker.in_memory()`` runs redtask's real store, Lua scripts, process engine and scheduler
pass on an in-memory Redis (fakeredis with Lua), with a clock the test moves
(``await kit.advance(seconds)``); ``kit.worker(worker)`` runs a ``Worker``'s or ``Router``'s
handlers in-process; ``await kit.instance(pi)``, ``kit.topic(name)``, ``kit.task(...)`` and
``kit.incidents()`` take snapshots to assert on, in the manner of camunda-bpm-assert::

    from redtask.testing import TestBroker

    async def test_an_order_ships_by_post() -> None:
        async with TestBroker.in_memory() as kit:
            await kit.deploy("order.bpmn")
            order = await kit.start("order", {"item": "book", "quantity": 2})
            await kit.worker(worker).run_until_idle()
            (await kit.instance(order)).ended_at("order_shipped").has_variables(carrier="post")

Installed with ``pip install 'redtask[testing]'``, which also registers the pytest plugin
(``redtask.testing.plugin``): fixtures ``redtask_broker``, ``redtask_worker`` and
``redtask_process``.
"""

from redtask.testing.assertions import (
    IncidentsAssert,
    InstanceAssert,
    InstanceSnapshot,
    TaskAssert,
    TopicAssert,
)
from redtask.testing.broker import (
    InstanceRef,
    ProcessInstance,
    SweepResult,
    TestBroker,
    TestSettings,
)
from redtask.testing.clock import TestClock
from redtask.testing.runner import Handled, TestWorker

__all__ = [
    "Handled",
    "IncidentsAssert",
    "InstanceAssert",
    "InstanceRef",
    "InstanceSnapshot",
    "ProcessInstance",
    "SweepResult",
    "TaskAssert",
    "TestBroker",
    "TestClock",
    "TestSettings",
    "TestWorker",
    "TopicAssert",
]
