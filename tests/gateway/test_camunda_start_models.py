"""Camunda's own timer, message and signal start event test models (tests/gateway/bpmn/camunda,
each naming its source): those within redtask's BPMN subset deploy and run to the end; the
others are refused naming only the element outside it (a user task)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx

from redtask.broker.store import Store
from tests.conftest import START_MS, FakeClock
from tests.gateway.constructs_helpers import API, assert_ended, fire_timers
from tests.gateway.start_helpers import deploy_xml, deployed, started_instances

MODELS = Path(__file__).resolve().parent / "bpmn" / "camunda"
MINUTE = 60_000


def model(name: str) -> bytes:
    return (MODELS / f"{name}.bpmn").read_bytes()


async def finish_all(client: httpx.AsyncClient, key: str) -> list[str]:
    """Signal every instance's receive task (Camunda's tests call runtimeService.signal);
    the ids of the instances, all ended."""
    ids = [i["id"] for i in await started_instances(client, key)]
    for instance_id in ids:
        response = await client.post(f"{API}/execution/{instance_id}/signal", json={})
        assert response.status_code == 204, response.text
        await assert_ended(client, instance_id, "COMPLETED")
    return ids


async def test_cycle_with_limit_starts_twice(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deployed(client, "cycle", model("StartTimerEventTest.testCycleWithLimitStartTimerEvent"))
    for _ in range(4):  # R2/PT5M
        await fire_timers(store, clock, 5 * MINUTE)
    assert len(await finish_all(client, "startTimerEventExampleCycle")) == 2


async def test_duration_starts_once(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deployed(client, "duration", model("StartTimerEventTest.testDurationStartTimerEvent"))
    await fire_timers(store, clock, 5 * MINUTE)
    await fire_timers(store, clock, 60 * MINUTE)
    assert len(await finish_all(client, "startTimerEventExample")) == 1


async def test_fixed_date_starts_at_that_date(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deployed(client, "fixed", model("StartTimerEventTest.testFixedDateStartTimerEvent"))
    due = int(datetime(2036, 11, 14, 11, 12, 22, tzinfo=UTC).timestamp() * 1000)
    await fire_timers(store, clock, due - START_MS - 1)
    assert await started_instances(client, "startTimerEventExample") == []
    await fire_timers(store, clock, 1)
    assert len(await finish_all(client, "startTimerEventExample")) == 1


async def test_cron_cycle_and_a_version_upgrade_keeps_one_schedule(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deployed(client, "cron", model("StartTimerEventTest.testCycleDateStartTimerEvent"))
    upgrade = model("StartTimerEventTest.testVersionUpgradeShouldCancelJobs")
    await deployed(client, "upgrade", upgrade)  # the same key: version 2 replaces version 1
    await fire_timers(store, clock, 100_000)  # 22:15:00
    await fire_timers(store, clock, 5 * MINUTE)
    found = await started_instances(client, "startTimerEventExample")
    assert [i["processDefinitionVersion"] for i in found] == [2, 2]
    assert len(await finish_all(client, "startTimerEventExample")) == 2


async def test_message_and_signal_start_models_are_refused_only_for_their_user_task(
    client: httpx.AsyncClient,
) -> None:
    for name in (
        "MessageStartEventTest.testSingleMessageStartEvent",
        "SignalEventTest.signalStartEvent",
    ):
        response = await deploy_xml(client, name, model(name))
        assert response.status_code == 400, response.text
        problems = response.json()["details"]
        [(_, report)] = problems.items()
        assert [e["bpmnElementIds"] for e in report["errors"]] == [["task"]]
        assert "<userTask>" in report["errors"][0]["message"]


async def test_undeploying_the_old_version_keeps_the_new_versions_timer(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    process = model("StartTimerEventTest.testTimerShouldNotBeRemovedWhenUndeployingOldVersion")
    first = await deployed(client, "first", process)
    await deployed(client, "second", process.replace(b"beforeChange", b"changed"))
    deleted = await client.delete(f"{API}/deployment/{first}", params={"cascade": "true"})
    assert deleted.status_code == 204, deleted.text
    await fire_timers(store, clock, 100_000)  # 22:15:00
    [started] = await started_instances(client, "processWithTimer")
    assert started["processDefinitionVersion"] == 2
    tree = await client.get(f"{API}/process-instance/{started['id']}/activity-instances")
    assert [c["activityId"] for c in tree.json()["childActivityInstances"]] == ["changed"]
    assert await finish_all(client, "processWithTimer") == [started["id"]]
