"""The test kit itself: its clock and sweeps, the worker runner, and the fixtures of its pytest
plugin (loaded through the ``pytest11`` entry point of the installed package); the assertions'
verdicts and messages are in tests/testing/test_kit_assertions.py. Its transitions are those of
the real store: tests/testing/test_parity_*.py run them on fakeredis and on a real redis-server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from redtask import ExternalTask, Router, TaskFailure
from redtask.broker.definition_model import DeploymentParseError
from redtask.testing import SweepResult, TestBroker
from tests.testing.kit_helpers import ORDER, TWO_PROCESSES, MakeWorker, StartProcess, handlers, seen

START = datetime(2030, 1, 1, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)

TWO_TIMERS = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  id="defs" targetNamespace="https://example.org/test">
  <bpmn:process id="waits" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first" />
    <bpmn:intermediateCatchEvent id="first">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT10M</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="second" />
    <bpmn:intermediateCatchEvent id="second">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT10M</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="second" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


START_CYCLE = (
    b'<bpmn:startEvent id="start"><bpmn:timerEventDefinition><bpmn:timeCycle>R3/PT10M'
    b"</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>"
)


# ---------------------------------------------------------------------- the plugin's fixtures
@pytest.mark.parametrize("round_", [1, 2])
async def test_every_test_gets_an_empty_broker_of_its_own(
    redtask_broker: TestBroker, round_: int
) -> None:
    """Run twice: a broker shared between tests would hold the first round's task."""
    assert await redtask_broker.tasks() == []
    await redtask_broker.publish("leak-check", {"round": round_})
    (await redtask_broker.topic("leak-check")).has_tasks(1)


async def test_two_brokers_share_nothing() -> None:
    async with TestBroker.in_memory() as one, TestBroker.in_memory() as two:
        await one.publish("t", {})
        assert len(await one.tasks()) == 1
        assert await two.tasks() == []
        assert one.store.redis.connection_pool is not two.store.redis.connection_pool


def test_the_plugin_is_loaded_from_the_entry_point(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("redtask")
    assert plugin is not None and plugin.__name__ == "redtask.testing.plugin"
    dists = {d.project_name for _, d in pytestconfig.pluginmanager.list_plugin_distinfo()}
    assert "redtask" in dists


@pytest.mark.redtask(partitions=4, history_ttl_s=5, start=START)
async def test_the_redtask_marker_sets_the_broker_up(redtask_broker: TestBroker) -> None:
    assert (redtask_broker.settings.partitions, redtask_broker.settings.history_ttl_s) == (4, 5)
    assert redtask_broker.now == START
    assert redtask_broker.clock() == START_MS


async def test_the_process_fixture_deploys_once_and_starts(
    redtask_broker: TestBroker, redtask_process: StartProcess
) -> None:
    first = await redtask_process(ORDER, {"item": "book", "quantity": 1}, business_key="K")
    second = await redtask_process(ORDER, {"item": "lamp", "quantity": 1})

    assert [d.version for d in await redtask_broker.store.definitions.definitions()] == [1]
    assert (first.definition_key, first.business_key, second.business_key) == ("order", "K", None)
    assert first.definition_id == second.definition_id
    (await redtask_broker.instance(first)).is_waiting_at("reserve_stock").has_business_key("K")


async def test_the_process_fixture_needs_a_key_for_a_file_of_several_processes(
    redtask_process: StartProcess, tmp_path: Path
) -> None:
    path = tmp_path / "two.bpmn"
    path.write_bytes(TWO_PROCESSES)
    with pytest.raises(ValueError, match=r"two\.bpmn holds the processes \['one', 'two'\]"):
        await redtask_process(path)
    instance = await redtask_process(path, key="two")
    assert instance.definition_key == "two"


# ---------------------------------------------------------------------- settings and deploys
def test_the_environment_does_not_change_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDTASK_PARTITIONS", "3")
    monkeypatch.setenv("REDTASK_HISTORY_TTL_S", "1")
    kit = TestBroker.in_memory(namespace="mine")
    assert (kit.settings.partitions, kit.settings.history_ttl_s) == (1, 7 * 24 * 3600)
    assert kit.settings.namespace == "mine"
    with pytest.raises(TypeError, match=r"unknown settings \['partitons'\]"):
        TestBroker.in_memory(partitons=4)


async def test_invalid_bpmn_and_unknown_keys_are_refused(redtask_broker: TestBroker) -> None:
    with pytest.raises(DeploymentParseError, match=r"process-1\.bpmn"):
        await redtask_broker.deploy(b"<bpmn:definitions xmlns:bpmn='nope'>")
    await redtask_broker.deploy(ORDER)
    with pytest.raises(LookupError, match=r"no process definition with key 'ordr'; .*\['order'\]"):
        await redtask_broker.start("ordr")


# ---------------------------------------------------------------------- the clock
async def test_advance_stops_at_every_due_time_on_the_way() -> None:
    """The second timer is scheduled when the first fires (at 10 min), so one advance of 20
    minutes ends the instance; jumping straight to the target would schedule it for 30."""
    async with TestBroker.in_memory(start=START) as kit:
        await kit.deploy(TWO_TIMERS)
        instance = await kit.start("waits")

        result = await kit.advance(timedelta(minutes=20))

        assert result == SweepResult(fired=2)
        assert kit.clock() == START_MS + 20 * 60_000
        (await kit.instance(instance)).is_completed().has_passed_in_order("first", "second")


async def test_advance_stops_at_the_due_times_of_a_timer_start_cycle() -> None:
    """R3/PT10M starts three instances; each waits 5 minutes, so 40 minutes fire 6 timers."""
    cycle = TWO_TIMERS.replace(b'<bpmn:startEvent id="start" />', START_CYCLE)
    async with TestBroker.in_memory(start=START) as kit:
        await kit.deploy(cycle.replace(b"PT10M</bpmn:timeDuration>", b"PT5M</bpmn:timeDuration>"))

        result = await kit.advance(timedelta(minutes=40))

        assert result == SweepResult(fired=3 + 3 * 2)


async def test_advance_without_sweep_only_moves_the_clock() -> None:
    async with TestBroker.in_memory(start=START) as kit:
        await kit.deploy(TWO_TIMERS)
        instance = await kit.start("waits")

        assert await kit.advance(minutes=15, sweep=False) == SweepResult()
        (await kit.instance(instance)).is_waiting_at("first")
        assert await kit.sweep() == SweepResult(fired=1)
        (await kit.instance(instance)).is_waiting_at("second")  # due 10 minutes from now
        assert await kit.advance(minutes=9) == SweepResult()
        assert await kit.advance(minutes=1) == SweepResult(fired=1)
        (await kit.instance(instance)).ended_at("end")


async def test_the_clock_only_moves_forward(redtask_broker: TestBroker) -> None:
    before = redtask_broker.clock()
    with pytest.raises(ValueError, match="only moves forward"):
        await redtask_broker.advance(-1)
    with pytest.raises(ValueError, match="only moves forward"):
        redtask_broker.clock.advance(-5)
    await redtask_broker.advance(seconds=1, minutes=1, hours=1, days=1)
    assert redtask_broker.clock() - before == (1 + 60 + 3600 + 86400) * 1000


# ---------------------------------------------------------------------- the worker runner
async def test_the_runner_reports_what_the_sdk_would(
    redtask_broker: TestBroker, redtask_worker: MakeWorker
) -> None:
    seen.clear()
    ids = {
        "missing": await redtask_broker.publish("needs-x", {}),
        "x": await redtask_broker.publish("needs-x", {"x": 3}),
        "wrong": await redtask_broker.publish("wrong-result"),
        "typed": await redtask_broker.publish("typed", {"n": 5}),
        "refuse": await redtask_broker.publish("refuse", {"code": "NOPE"}),
        "give-up": await redtask_broker.publish("give-up"),
    }
    runner = redtask_worker(handlers, worker_id="tester")

    done = {h.task_id: h for h in await runner.run_until_idle()}

    by_name = {name: done[task_id] for name, task_id in ids.items()}
    assert by_name["missing"].outcome == "failed"
    assert by_name["missing"].error_message == (
        f"task {ids['missing']} has no variable 'x' (handler parameter)"
    )
    assert (by_name["missing"].retries, by_name["x"].outcome) == (1, "completed")
    assert seen == [{"x": 3}]
    assert by_name["wrong"].error_message == (
        "handler returned int; expected a dict, Complete or None"
    )
    assert by_name["typed"].variables == {"big": {"type": "Long", "value": 5}}
    assert by_name["typed"].local_variables == {"by": {"type": "String", "value": "tester"}}
    assert (by_name["refuse"].outcome, by_name["refuse"].error_code) == ("bpmn_error", "NOPE")
    assert by_name["refuse"].values == {"why": "test"}
    assert (by_name["give-up"].retries, by_name["give-up"].error_details) == (0, "details")
    assert runner.handled == list(done.values())
    (await redtask_broker.task(ids["give-up"])).has_incident("no way")
    (await redtask_broker.task(ids["missing"])).is_retrying().has_failed(retries_left=1)


async def test_step_takes_one_topic_and_one_task_at_a_time(
    redtask_broker: TestBroker, redtask_worker: MakeWorker
) -> None:
    for x in (1, 2):
        await redtask_broker.publish("needs-x", {"x": x})
    await redtask_broker.publish("wrong-result")
    runner = redtask_worker(handlers)

    [first] = await runner.step("needs-x")
    (await redtask_broker.topic("needs-x")).has_tasks(1, state="available")
    rest = await runner.step("needs-x", max_tasks=5)

    assert (first.outcome, [h.outcome for h in rest]) == ("completed", ["completed"])
    assert await runner.step("needs-x") == []
    (await redtask_broker.topic("wrong-result")).has_tasks(1, state="available")
    with pytest.raises(ValueError, match=r"no handler for topic 'other'; handlers: \["):
        await runner.step("other")


async def test_a_report_after_the_lock_was_taken_over_is_lost(
    redtask_broker: TestBroker, redtask_worker: MakeWorker
) -> None:
    slow = Router(lock_duration=1_000)

    @slow.task("slow")
    async def takes_long() -> None:
        await redtask_broker.advance(2)  # the lock expires while the handler runs
        await redtask_broker.worker(thief).step()

    thief = Router()
    stolen: list[str] = []

    @thief.task("slow")
    def steal(task: ExternalTask) -> None:
        stolen.append(task.id)
        raise TaskFailure("kept", retries=1, retry_timeout_ms=60_000)

    task_id = await redtask_broker.publish("slow")
    [handled] = await redtask_worker(slow).step()

    assert (handled.outcome, stolen) == ("lost", [task_id])
    (await redtask_broker.task(task_id)).is_retrying().has_failed(message="kept")


async def test_run_until_idle_stops_a_loop(
    redtask_broker: TestBroker, redtask_worker: MakeWorker
) -> None:
    loop = Router()

    @loop.task("again")
    async def again() -> None:
        await redtask_broker.publish("again")

    await redtask_broker.publish("again")
    with pytest.raises(RuntimeError, match=r"still fetching tasks after 5 .*a process loop"):
        await redtask_worker(loop).run_until_idle(max_tasks=5)


def test_a_runner_needs_handlers(redtask_broker: TestBroker) -> None:
    with pytest.raises(ValueError, match="no task handlers"):
        redtask_broker.worker(Router())
