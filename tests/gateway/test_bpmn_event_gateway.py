"""Event-based gateways end to end, only through the REST API: the first of a message, a timer
and a signal wins, the other waits are cancelled."""

from __future__ import annotations

import httpx
import pytest

from redtask.broker.store import Store
from tests.conftest import FakeClock
from tests.gateway.constructs_helpers import (
    API,
    HOUR,
    assert_active,
    assert_ended,
    deploy,
    fire_timers,
    start,
    typed,
    variables,
    work,
)
from tests.gateway.event_helpers import activities, message, signal

WAITING = [
    ("start", "startEvent", "done"),
    ("wait", "eventBasedGateway", "open"),
]


async def test_the_message_wins_over_the_timer(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deploy(client, "event_gateway", own=True)
    pi = await start(client, "race", {"order": 7}, businessKey="o-7")
    assert await activities(client, pi) == WAITING
    tree = (await client.get(f"{API}/process-instance/{pi}/activity-instances")).json()
    assert [c["activityId"] for c in tree["childActivityInstances"]] == ["wait"]
    paid = await message(client, "Paid", businessKey="o-7", processVariables={"amount": typed(12)})
    assert paid.status_code == 204, paid.text
    assert await variables(client, pi) == {"order": 7, "amount": 12}
    await fire_timers(store, clock, 2 * HOUR)  # the timer was cancelled: nothing fires
    assert await work(client, ["ship", "cancel"]) == ["ship"]
    await assert_ended(client, pi, "COMPLETED")
    assert await activities(client, pi) == [
        ("start", "startEvent", "done"),
        ("wait", "eventBasedGateway", "done"),
        ("paid", "intermediateMessageCatch", "done"),
        ("ship", "serviceTask", "done"),
        ("shipped", "noneEndEvent", "done"),
    ]
    # the timer and the signal are no longer waited for
    late = await signal(client, "Recall")
    assert late.status_code == 204, late.text
    assert (await message(client, "Paid", businessKey="o-7")).status_code == 400


async def test_the_timer_wins_over_the_message(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deploy(client, "event_gateway", own=True)
    pi = await start(client, "race", businessKey="o-8")
    await fire_timers(store, clock, HOUR - 1)
    await assert_active(client, pi)
    assert await activities(client, pi) == WAITING
    await fire_timers(store, clock, 1)
    late = await message(client, "Paid", businessKey="o-8")
    assert late.status_code == 400, late.text  # the subscription went with the gateway
    assert await work(client, ["ship", "cancel"]) == ["cancel_order"]
    await assert_ended(client, pi, "COMPLETED")
    assert await activities(client, pi) == [
        ("start", "startEvent", "done"),
        ("wait", "eventBasedGateway", "done"),
        ("timeout", "intermediateTimer", "done"),
        ("cancel_order", "serviceTask", "done"),
        ("cancelled", "noneEndEvent", "done"),
    ]


async def test_a_signal_wins_in_every_waiting_instance(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deploy(client, "event_gateway", own=True)
    first, second = await start(client, "race"), await start(client, "race")
    recalled = await signal(client, "Recall", variables={"why": typed("defect")})
    assert recalled.status_code == 204, recalled.text
    for pi in (first, second):
        await assert_ended(client, pi, "COMPLETED")
        assert await activities(client, pi) == [
            ("start", "startEvent", "done"),
            ("wait", "eventBasedGateway", "done"),
            ("recall", "intermediateSignalCatch", "done"),
            ("recalled", "noneEndEvent", "done"),
        ]
    await fire_timers(store, clock, 2 * HOUR)
    assert await work(client, ["ship", "cancel"]) == []


GATEWAY = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
  <process id="bad" isExecutable="true">
    <startEvent id="start" />
    <sequenceFlow id="f1" sourceRef="start" targetRef="gw" />
    <eventBasedGateway id="gw" />
    <sequenceFlow id="f2" sourceRef="gw" targetRef="{target}" />
    {element}
  </process>
</definitions>
"""


@pytest.mark.parametrize(
    "element, message_text",
    [
        (
            '<serviceTask id="task" camunda:type="external" camunda:topic="t" />',
            "Event based gateway can only be connected to elements of type intermediateCatchEvent",
        ),
        (
            '<intermediateCatchEvent id="task"><timerEventDefinition><timeDuration>PT1H'
            "</timeDuration></timerEventDefinition></intermediateCatchEvent>"
            '<sequenceFlow id="f3" sourceRef="start" targetRef="task" />',
            "Invalid incoming sequenceflow for intermediateCatchEvent with id 'task' "
            "connected to an event-based gateway.",
        ),
    ],
    ids=["task-after-gateway", "second-incoming-flow"],
)
async def test_a_gateway_leading_elsewhere_than_to_catch_events_is_refused(
    client: httpx.AsyncClient, element: str, message_text: str
) -> None:
    content = GATEWAY.format(target="task", element=element).encode()
    response = await client.post(
        "/engine-rest/deployment/create",
        data={"deployment-name": "bad"},
        files={"data": ("bad.bpmn", content, "application/xml")},
    )
    assert response.status_code == 400, response.text
    assert message_text in response.text
