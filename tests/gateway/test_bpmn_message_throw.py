"""Message throw and end events with ``camunda:type="external"`` end to end, only through the
REST API: each is an external task a worker completes (Camunda runs them as service tasks),
with input/output mappings, priority, extension properties and error event definitions."""

from __future__ import annotations

import httpx

from tests.gateway.constructs_helpers import (
    API,
    act,
    assert_active,
    assert_ended,
    deploy,
    fetch,
    plain,
    start,
    variables,
)
from tests.gateway.event_helpers import activities

TOPICS = ["notify", "mail"]


async def test_a_message_throw_then_a_message_end_event_wait_for_workers(
    client: httpx.AsyncClient,
) -> None:
    await deploy(client, "message_throw", own=True)
    pi = await start(client, "notify", {"customer": "ann@example.com", "channel": "mail"})
    response = await client.post(
        f"{API}/external-task/fetchAndLock",
        json={
            "workerId": "w",
            "maxTasks": 5,
            "topics": [
                {"topicName": "notify", "lockDuration": 60_000, "includeExtensionProperties": True}
            ],
        },
    )
    [tell] = response.json()
    assert (tell["activityId"], tell["topicName"], tell["priority"]) == ("tell", "notify", 5)
    assert tell["extensionProperties"] == {"channel": "mail"}
    assert plain(tell["variables"]) == {
        "customer": "ann@example.com",
        "channel": "mail",
        "to": "ann@example.com",
    }
    await act(client, tell, ("complete", {"sent": "ok"}, None))
    await assert_active(client, pi)
    assert await variables(client, pi) == {
        "customer": "ann@example.com",
        "channel": "mail",
        "receipt": "ok",
    }
    [published] = await fetch(client, TOPICS)  # the topic ${channel} reads the process variable
    assert (published["activityId"], published["topicName"]) == ("published", "mail")
    await act(client, published, ("complete", {}, None))
    await assert_ended(client, pi, "COMPLETED")
    assert await activities(client, pi) == [
        ("start", "startEvent", "done"),
        ("tell", "intermediateMessageThrowEvent", "done"),
        ("published", "messageEndEvent", "done"),
    ]


async def test_an_error_event_definition_on_a_message_end_event(
    client: httpx.AsyncClient,
) -> None:
    await deploy(client, "message_throw", own=True)
    pi = await start(client, "notify", {"customer": "bob@example.com", "channel": "sms"})
    [tell] = await fetch(client, [*TOPICS, "sms"])
    await act(client, tell, ("complete", {"sent": "bounced"}, None))
    [published] = await fetch(client, [*TOPICS, "sms"])
    assert published["topicName"] == "sms"
    # ${receipt == 'bounced'} throws GONE on completion; nothing catches it: the path ends
    await act(client, published, ("complete", {}, None))
    await assert_ended(client, pi, "COMPLETED")
    assert [a[0] for a in await activities(client, pi)] == ["start", "tell", "published"]


PLAIN = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" targetNamespace="t">
  <message id="M" name="Notice" />
  <process id="plain_message_end" isExecutable="true">
    <startEvent id="start" />
    <sequenceFlow id="f1" sourceRef="start" targetRef="end" />
    <endEvent id="end"><messageEventDefinition messageRef="M" /></endEvent>
  </process>
</definitions>
"""


async def test_a_message_end_event_without_implementation_ends_the_path(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        f"{API}/deployment/create",
        data={"deployment-name": "plain"},
        files={"data": ("plain.bpmn", PLAIN, "application/xml")},
    )
    assert response.status_code == 200, response.text
    pi = await start(client, "plain_message_end")
    await assert_ended(client, pi, "COMPLETED")
    # Camunda gives it no behaviour and leaves its type the element's name
    assert await activities(client, pi) == [
        ("start", "startEvent", "done"),
        ("end", "endEvent", "done"),
    ]
