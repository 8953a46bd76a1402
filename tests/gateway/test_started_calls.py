"""Call activities meet timer, message and signal start events: a process started by any of
them calls processes as any other, and a called process begins at its initial start event
(its none or timer start event, else its only start event), as Camunda's call activity does;
one without an initial start event fails the calling step with Camunda's message."""

from __future__ import annotations

import httpx

from redtask.broker.store import Store
from tests.conftest import FakeClock
from tests.gateway.call_helpers import activities, chain, child_of, deploy_xml, one_task, process
from tests.gateway.constructs_helpers import API, fire_timers, work
from tests.gateway.start_helpers import started_instances

MESSAGES = (
    '<bpmn:message id="m1" name="order"/><bpmn:message id="m2" name="refund"/>'
    '<bpmn:signal id="s1" name="alarm"/>'
)
TIMER = (
    "<bpmn:timerEventDefinition><bpmn:timeDuration>PT10M</bpmn:timeDuration>"
    "</bpmn:timerEventDefinition>"
)
ORDER = '<bpmn:messageEventDefinition messageRef="m1"/>'
REFUND = '<bpmn:messageEventDefinition messageRef="m2"/>'
ALARM = '<bpmn:signalEventDefinition signalRef="s1"/>'


def caller(key: str, start: str, called: str = "child") -> bytes:
    """start (with the event definition ``start``) -> call ``called`` -> end."""
    body = (
        f'<bpmn:startEvent id="go">{start}</bpmn:startEvent>'
        f'<bpmn:callActivity id="call" calledElement="{called}" />'
        '<bpmn:endEvent id="e" />'
    )
    return process(key, body + chain("go", "call", "e"), MESSAGES)


def called_with(key: str, *starts: tuple[str, str]) -> bytes:
    """A process whose start events (id, event definition) each lead to an external task on
    topic ``key`` (its id: ``<start id>_task``), then to the end."""
    body = ['<bpmn:endEvent id="e" />']
    for sid, definition in starts:
        body.append(f'<bpmn:startEvent id="{sid}">{definition}</bpmn:startEvent>')
        body.append(
            f'<bpmn:serviceTask id="{sid}_task" camunda:type="external" camunda:topic="{key}" />'
        )
        body.append(chain(sid, f"{sid}_task", "e"))
    return process(key, "".join(body), MESSAGES)


async def one_started(client: httpx.AsyncClient, key: str, start_activity: str) -> str:
    """The one instance of ``key``: it started at ``start_activity``; its id."""
    [instance] = await started_instances(client, key)
    assert instance["startActivityId"] == start_activity
    return str(instance["id"])


async def assert_called_and_completed(client: httpx.AsyncClient, parent: str) -> None:
    """``parent`` waits in its call activity for a ``child`` instance; its task done, both end."""
    child = await child_of(client, parent)
    [historic] = [i for i in await started_instances(client, "child") if i["id"] == child]
    assert historic["superProcessInstanceId"] == parent
    assert historic["rootProcessInstanceId"] == parent
    assert await work(client, ["child"]) == ["t"]
    assert await activities(client, parent) == ["go", "call", "e"]
    states = {i["id"]: i["state"] for i in await started_instances(client, "child")}
    assert states[child] == "COMPLETED"


async def test_a_timer_started_process_calls_another(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deploy_xml(client, caller("nightly", TIMER), one_task("child", "child"))
    await fire_timers(store, clock, 10 * 60_000)
    parent = await one_started(client, "nightly", "go")
    await assert_called_and_completed(client, parent)
    [ended] = await started_instances(client, "nightly")
    assert ended["state"] == "COMPLETED"


async def test_message_and_signal_started_processes_call_another(
    client: httpx.AsyncClient,
) -> None:
    await deploy_xml(client, caller("orders", ORDER), one_task("child", "child"))
    response = await client.post(f"{API}/message", json={"messageName": "order"})
    assert response.status_code == 204, response.text
    await assert_called_and_completed(client, await one_started(client, "orders", "go"))

    await deploy_xml(client, caller("alarms", ALARM), name="alarms")
    response = await client.post(f"{API}/signal", json={"name": "alarm"})
    assert response.status_code == 204, response.text
    await assert_called_and_completed(client, await one_started(client, "alarms", "go"))


async def test_a_called_process_begins_at_its_only_message_or_timer_start_event(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    for n, start in enumerate((ORDER, TIMER)):
        await deploy_xml(
            client, caller("parent", ""), called_with("child", ("only", start)), name=f"v{n}"
        )
        started = await client.post(f"{API}/process-definition/key/parent/start", json={})
        assert started.status_code == 200, started.text
        parent = started.json()["id"]
        child = await child_of(client, parent)
        assert await work(client, ["child"]) == ["only_task"]
        assert await activities(client, child) == ["only", "only_task", "e"]
        assert await activities(client, parent) == ["go", "call", "e"]
    # the called process's timer start event keeps its own schedule
    await fire_timers(store, clock, 10 * 60_000)
    assert await work(client, ["child"]) == ["only_task"]
    [scheduled] = [
        i for i in await started_instances(client, "child") if not i["superProcessInstanceId"]
    ]
    assert scheduled["startActivityId"] == "only"


async def test_a_called_process_with_a_none_start_event_begins_there(
    client: httpx.AsyncClient,
) -> None:
    both = called_with("child", ("on_order", ORDER), ("plain", ""))
    await deploy_xml(client, caller("parent", ""), both)
    started = await client.post(f"{API}/process-definition/key/parent/start", json={})
    assert started.status_code == 200, started.text
    assert await work(client, ["child"]) == ["plain_task"]


async def test_a_called_process_without_an_initial_start_event_fails_the_call(
    client: httpx.AsyncClient,
) -> None:
    two = called_with("child", ("on_order", ORDER), ("on_refund", REFUND))
    await deploy_xml(client, caller("parent", ""), two)
    refused = await client.post(f"{API}/process-definition/key/parent/start", json={})
    assert refused.status_code == 400, refused.text
    assert refused.json()["message"].endswith(
        "Cannot start process instance, initial activity where the process instance should "
        "start is null: initial is null"
    )
    assert await started_instances(client, "parent") == []
    assert await started_instances(client, "child") == []
    # a message still starts it at its message start event
    response = await client.post(f"{API}/message", json={"messageName": "refund"})
    assert response.status_code == 204, response.text
    assert await work(client, ["child"]) == ["on_refund_task"]
