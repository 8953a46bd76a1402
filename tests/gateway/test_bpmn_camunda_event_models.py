"""Camunda's own test models for signal, message and event-based gateway constructs
(``tests/gateway/bpmn/camunda/``, each naming its source), deployed over REST and run to the end
as Camunda's tests run them, or refused as Camunda refuses them."""

from __future__ import annotations

import httpx
import pytest

from redtask.broker.store import Store
from tests.conftest import FakeClock
from tests.gateway.constructs_helpers import (
    OWN_FILES,
    assert_active,
    assert_ended,
    deploy,
    fire_timers,
    start,
)
from tests.gateway.event_helpers import activities, message, signal


async def models(client: httpx.AsyncClient, *names: str) -> None:
    for name in names:
        await deploy(client, f"camunda/{name}", own=True)


async def test_signal_catch_intermediate(client: httpx.AsyncClient) -> None:
    """SignalEventTest#testSignalCatchIntermediate: a throw of another instance wakes it."""
    await models(client, "SignalEventTests.catchAlertSignal", "SignalEventTests.throwAlertSignal")
    catching = await start(client, "catchSignal")
    await assert_active(client, catching)
    thrower = await start(client, "throwSignal")
    await assert_ended(client, thrower, "COMPLETED")
    await assert_ended(client, catching, "COMPLETED")
    assert await activities(client, catching) == [
        ("start", "startEvent", "done"),
        ("signalEvent", "intermediateSignalCatch", "done"),
        ("end", "noneEndEvent", "done"),
    ]
    assert await activities(client, thrower) == [
        ("start", "startEvent", "done"),
        ("signalEvent", "intermediateSignalThrow", "done"),
        ("end", "noneEndEvent", "done"),
    ]


async def test_a_throw_no_one_waits_for(client: httpx.AsyncClient) -> None:
    """SignalEventTests.throwAbortSignal: the throw passes and the instance ends."""
    await models(client, "SignalEventTests.throwAbortSignal", "SignalEventTests.catchAlertSignal")
    waiting = await start(client, "catchSignal")  # waits for "alert", not "abort"
    pi = await start(client, "throwAbort")
    await assert_ended(client, pi, "COMPLETED")
    await assert_active(client, waiting)


async def test_signal_boundary_on_a_sub_process(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    """SignalEventTest#testSignalBoundaryOnSubProcess: the stop signal interrupts the
    sub-process waiting in its timer."""
    await models(client, "SignalEventTest.testSignalBoundaryOnSubProcess")
    pi = await start(client, "signalEventOnSubprocess")
    stopped = await signal(client, "stopSignal")
    assert stopped.status_code == 204, stopped.text
    await assert_ended(client, pi, "COMPLETED")
    await fire_timers(store, clock, 2 * 86_400_000)  # its timer was cancelled
    assert await activities(client, pi) == [
        ("start", "startEvent", "done"),
        ("waitingsubprocess", "subProcess", "canceled"),
        ("sub-start", "startEvent", "done"),
        ("timer", "intermediateTimer", "canceled"),
        ("waitStopSignal", "boundarySignal", "done"),
        ("end", "noneEndEvent", "done"),
    ]


@pytest.mark.parametrize(
    "message_name, path",
    [
        ("continueMessage", ["IntermediateCatchEvent_1", "EndEvent_2", "EndEvent_1"]),
        ("cancelMessage", ["IntermediateCatchEvent_1", "BoundaryEvent_1", "EndEvent_3"]),
    ],
)
async def test_message_boundary_on_a_sub_process_with_a_message_catch_inside(
    client: httpx.AsyncClient, message_name: str, path: list[str]
) -> None:
    """MessageBoundaryEventTest#testBoundaryMessageEventOnSubprocessWithIntermediateMessageCatch:
    the catch event inside moves on, or the boundary event interrupts the sub-process."""
    await models(
        client,
        "MessageBoundaryEventTest.testBoundaryMessageEventOnSubprocessWithIntermediateMessageCatch",
    )
    pi = await start(client, "testProcess")
    delivered = await message(client, message_name, processInstanceId=pi)
    assert delivered.status_code == 204, delivered.text
    await assert_ended(client, pi, "COMPLETED")
    passed = [a[0] for a in await activities(client, pi)]
    assert passed == ["StartEvent_1", "SubProcess_1", "StartEvent_2", *path]


async def test_a_message_throw_without_implementation_passes(client: httpx.AsyncClient) -> None:
    """MessageIntermediateThrowEventTest#testSingleIntermediateThrowMessageEvent."""
    await models(
        client, "MessageIntermediateThrowEventTest.testSingleIntermediateThrowMessageEvent"
    )
    pi = await start(client, "process")
    await assert_ended(client, pi, "COMPLETED")
    assert await activities(client, pi) == [
        ("theStart", "startEvent", "done"),
        ("messageThrow", "intermediateNoneThrowEvent", "done"),
        ("theEnd", "noneEndEvent", "done"),
    ]


@pytest.mark.parametrize(
    "name, element, text",
    [
        (
            "EventBasedGatewayTest.testConnectedToActivity",
            "gw1",
            "Event based gateway can only be connected to elements of type intermediateCatchEvent",
        ),
        (
            "EventBasedGatewayTest.testEventInvalidSequenceFlow",
            "invalidFlow",
            "Invalid incoming sequenceflow for intermediateCatchEvent with id 'signalEvent' "
            "connected to an event-based gateway.",
        ),
    ],
)
async def test_event_gateway_models_camunda_refuses(
    client: httpx.AsyncClient, name: str, element: str, text: str
) -> None:
    content = (OWN_FILES / "camunda" / f"{name}.bpmn").read_bytes()
    response = await client.post(
        "/engine-rest/deployment/create",
        data={"deployment-name": name},
        files={"data": (f"{name}.bpmn", content, "application/xml")},
    )
    assert response.status_code == 400, response.text
    problems = [
        p
        for report in response.json()["details"].values()
        for p in report["errors"]
        if p["message"] == text
    ]
    assert [p["mainElementId"] for p in problems] == [element]
