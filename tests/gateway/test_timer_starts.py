"""Timer start events end to end through the REST API: timeCycle (repeating intervals, with
and without a start date, and cron), timeDate and timeDuration start instances when due, each
due time exactly once; the schedule follows the latest version of the process."""

from __future__ import annotations

import httpx
import pytest

from redtask.broker.start_timers import RECONCILE_MS
from redtask.broker.store import Store
from tests.conftest import START_MS, FakeClock
from tests.gateway.constructs_helpers import API, HOUR, fire_timers, work
from tests.gateway.start_helpers import (
    activity_ids,
    deploy_xml,
    deployed,
    process,
    started_instances,
    timer,
)

MINUTE = 60_000


async def count(client: httpx.AsyncClient, key: str) -> int:
    return len(await started_instances(client, key))


async def test_a_repeating_interval_starts_an_instance_each_time_it_falls_due(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deployed(client, "r3", process("r3", ("tick", timer("timeCycle", "R3/PT10M"))))
    await fire_timers(store, clock, 10 * MINUTE - 1)
    assert await count(client, "r3") == 0
    await fire_timers(store, clock, 1)
    [first] = await started_instances(client, "r3")
    assert first["startActivityId"] == "tick"
    assert await work(client, ["r3"]) == ["tick_task"]
    assert await activity_ids(client, first["id"]) == ["tick", "tick_task", "end"]
    for _ in range(5):  # 3 times in all, then never again
        await fire_timers(store, clock, 10 * MINUTE)
    found = await started_instances(client, "r3")
    assert [i["startTime"][11:19] for i in found] == ["22:23:20", "22:33:20", "22:43:20"]
    assert await work(client, ["r3"]) == ["tick_task", "tick_task"]
    assert {i["state"] for i in await started_instances(client, "r3")} == {"COMPLETED"}


async def test_an_unbounded_cycle_keeps_firing_and_skips_what_it_missed(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deployed(client, "hourly", process("hourly", ("tick", timer("timeCycle", "R/PT1H"))))
    for _ in range(4):
        await fire_timers(store, clock, HOUR)
    assert await count(client, "hourly") == 4
    await fire_timers(store, clock, 10 * HOUR)  # no scheduler ran for ten due times: one start
    assert await count(client, "hourly") == 5
    await fire_timers(store, clock, HOUR - 1)
    assert await count(client, "hourly") == 5
    await fire_timers(store, clock, 1)  # back on the original grid
    assert await count(client, "hourly") == 6


async def test_a_repeating_interval_with_a_start_date_first_fires_at_that_date(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    begin = "2023-11-15T00:00:00Z"  # START_MS is 2023-11-14T22:13:20Z
    until_begin = 1_700_006_400_000 - START_MS
    cycle = timer("timeCycle", f"R2/{begin}/PT1H")
    await deployed(client, "dated", process("dated", ("tick", cycle)))
    await fire_timers(store, clock, until_begin - 1)
    assert await count(client, "dated") == 0
    await fire_timers(store, clock, 1)
    assert await count(client, "dated") == 1
    await fire_timers(store, clock, HOUR)
    await fire_timers(store, clock, HOUR)
    assert await count(client, "dated") == 2


async def test_a_cron_cycle_fires_on_its_schedule(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deployed(client, "cron", process("cron", ("tick", timer("timeCycle", "0 0/5 * * * ?"))))
    await fire_timers(store, clock, 100_000 - 1)  # 22:13:20 + 99.999 s: not yet 22:15
    assert await count(client, "cron") == 0
    await fire_timers(store, clock, 1)
    await fire_timers(store, clock, 5 * MINUTE)
    found = await started_instances(client, "cron")
    assert [i["startTime"][11:19] for i in found] == ["22:15:00", "22:20:00"]


async def test_a_time_date_start_fires_once_and_a_past_date_at_once(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deployed(
        client, "dated", process("dated", ("tick", timer("timeDate", "2023-11-15T00:00:00Z")))
    )
    past = process("past", ("tick", timer("timeDate", "2020-01-01T00:00:00Z")))
    await deployed(client, "past", past)
    await fire_timers(store, clock, 0)
    assert (await count(client, "past"), await count(client, "dated")) == (1, 0)
    await fire_timers(store, clock, 1_700_006_400_000 - START_MS)
    await fire_timers(store, clock, 24 * HOUR)
    assert (await count(client, "past"), await count(client, "dated")) == (1, 1)


async def test_a_time_duration_start_fires_once_after_the_deployment(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deployed(client, "later", process("later", ("tick", timer("timeDuration", "PT5M"))))
    await fire_timers(store, clock, 5 * MINUTE - 1)
    assert await count(client, "later") == 0
    await fire_timers(store, clock, 1)
    await fire_timers(store, clock, HOUR)
    assert await count(client, "later") == 1


async def test_a_timer_start_process_can_still_be_started_by_key(
    client: httpx.AsyncClient,
) -> None:
    await deployed(client, "hourly", process("hourly", ("tick", timer("timeCycle", "R/PT1H"))))
    response = await client.post(f"{API}/process-definition/key/hourly/start", json={})
    assert response.status_code == 200, response.text
    assert await work(client, ["hourly"]) == ["tick_task"]


@pytest.mark.parametrize(
    ("kind", "value", "says"),
    [
        ("timeCycle", "R/PT0.5S", "shorter than the shortest cycle supported (1000 ms)"),
        ("timeCycle", "R3/PT0S", "shorter than the shortest cycle supported (1000 ms)"),
        ("timeCycle", "0 0 0 30 2 ?", "never fires (no occurrence within 10 years)"),
        ("timeCycle", "0 0 25 * * ?", "Invalid cron expression '0 0 25 * * ?'"),
        ("timeCycle", "0 0/5 * * *", "expected six fields"),
        ("timeCycle", "R3/PT10M/2030-01-01T00:00:00Z", "Invalid ISO-8601 date 'PT10M'"),
        ("timeCycle", "R3x/PT10M", "Invalid repeating interval"),
        ("timeDuration", "soon", "Invalid ISO-8601 duration 'soon'"),
        ("timeCycle", "${cycle}", "Timer start event 'tick' has an expression (not supported)"),
    ],
)
async def test_a_bad_start_timer_is_refused_naming_the_element(
    client: httpx.AsyncClient, kind: str, value: str, says: str
) -> None:
    response = await deploy_xml(client, "bad", process("bad", ("tick", timer(kind, value))))
    assert response.status_code == 400, response.text
    body = response.json()
    assert says in body["message"]
    assert "tick" in body["message"]


async def test_a_new_version_replaces_the_schedule_and_deleting_it_restores_the_old(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    v1 = await deployed(client, "v1", process("p", ("hourly", timer("timeCycle", "R/PT1H"))))
    await fire_timers(store, clock, 30 * MINUTE)
    v2 = await deployed(client, "v2", process("p", ("quarter", timer("timeCycle", "R/PT15M"))))
    await fire_timers(store, clock, 15 * MINUTE)
    await fire_timers(store, clock, 15 * MINUTE)  # v1 would be due now: its timer is gone
    found = await started_instances(client, "p")
    assert [(i["startActivityId"], i["processDefinitionVersion"]) for i in found] == [
        ("quarter", 2),
        ("quarter", 2),
    ]
    # a version without a timer start stops the schedule
    v3 = await deployed(client, "v3", process("p", ("plain", "")))
    await fire_timers(store, clock, 2 * HOUR)
    assert await count(client, "p") == 2
    # deleting the latest version brings back the timers of the one that is latest again
    assert (await client.delete(f"{API}/deployment/{v3}")).status_code == 204
    await fire_timers(store, clock, 15 * MINUTE)
    assert await count(client, "p") == 3
    await client.delete(f"{API}/deployment/{v2}", params={"cascade": "true"})
    await fire_timers(store, clock, HOUR)
    found = await started_instances(client, "p")  # deleted versions' instances stay in history
    assert [i["processDefinitionVersion"] for i in found[3:]] == [1]
    await client.delete(f"{API}/deployment/{v1}", params={"cascade": "true"})
    await fire_timers(store, clock, 10 * HOUR)
    assert await count(client, "p") == 4
    keys = store.keys
    assert await store.redis.smembers(keys.armed_start_timers) == set()
    for partition in range(keys.partitions):
        assert await store.redis.zcard(keys.start_timers(partition)) == 0
        assert await store.redis.hlen(keys.start_timer_index(partition)) == 0


async def test_due_times_of_a_suspended_definition_pass_unused(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    response = await client.post(
        f"{API}/deployment/create",
        data={"deployment-name": "later", "deployment-activation-time": "2023-11-14T23:13:20Z"},
        files={"data": ("p.bpmn", process("p", ("tick", timer("timeCycle", "R/PT30M"))), "a/b")},
    )
    assert response.status_code == 200, response.text
    await fire_timers(store, clock, 30 * MINUTE)  # suspended: this due time passes
    assert await count(client, "p") == 0
    await fire_timers(store, clock, 30 * MINUTE)  # active from here on
    await fire_timers(store, clock, 30 * MINUTE)
    assert await count(client, "p") == 2


async def test_the_scheduler_arms_a_timer_whose_deployment_stopped_before_arming_it(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await deployed(client, "hourly", process("hourly", ("tick", timer("timeCycle", "R/PT1H"))))
    keys = store.keys  # as if the deploying process died right after its transaction
    for partition in range(keys.partitions):
        await store.redis.delete(keys.start_timers(partition), keys.start_timer_index(partition))
    await store.redis.delete(keys.armed_start_timers)
    await fire_timers(store, clock, RECONCILE_MS)  # the schedulers reconcile this often
    await fire_timers(store, clock, HOUR - 1)
    assert await count(client, "hourly") == 0
    await fire_timers(store, clock, 1)  # an hour after it was armed
    assert await count(client, "hourly") == 1


async def test_a_start_whose_first_step_fails_is_logged_and_the_cycle_goes_on(
    client: httpx.AsyncClient, store: Store, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    broken = process("broken", ("tick", timer("timeCycle", "R2/PT1H")), topic="${missing}")
    await deployed(client, "broken", broken)
    await fire_timers(store, clock, HOUR)
    await fire_timers(store, clock, HOUR)
    assert await count(client, "broken") == 0
    failures = [r for r in caplog.records if "could not start an instance" in r.getMessage()]
    assert len(failures) == 2
    assert "Cannot evaluate the topic of 'tick_task'" in failures[0].getMessage()
    keys = store.keys
    ends = [await store.redis.hgetall(keys.start_timer_index(p)) for p in range(keys.partitions)]
    assert [v for index in ends for v in index.values()] == ["done"]  # both due times used


async def test_a_start_timer_past_the_latest_supported_date_never_fires(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    far = process("far", ("tick", timer("timeDuration", "P99999Y")))
    await deployed(client, "far", far)  # deploys; its schedule is never armed (logged)
    await fire_timers(store, clock, 10 * HOUR)
    assert await count(client, "far") == 0
