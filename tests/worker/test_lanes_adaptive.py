"""Adaptive poll lanes: a worker polls with all its lanes while its thread gets a CPU when it
needs one, and with the first alone while it waits for busy CPUs (``redtask.worker.lanes``).
Switching keeps every guarantee: never more tasks held than the concurrency, each task run
once, nothing locked ahead by a resting lane left waiting for its lock to end."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from redtask.broker.model import NewTask
from redtask.broker.store import Store
from redtask.worker import lanes as lanes_module
from redtask.worker.inflight import Lanes
from redtask.worker.lanes import CROWDED, ROOMY, LaneGovernor, cpu_times
from redtask.worker.transport.base import Subscription
from redtask.worker.transport.redis import RedisTransport
from redtask.worker.transport.redis_lane import RedisLane
from tests.worker.helpers import run_each_once

linux_only = pytest.mark.skipif(
    not lanes_module.SCHEDSTAT.exists(), reason="the kernel does not count CPU waits"
)
MS = 1_000_000  # ns


def _lanes(concurrency: int, count: int) -> Lanes:
    lanes = Lanes(concurrency)
    for _ in range(count):
        lanes.add(RedisTransport())
    lanes.share(count)
    return lanes


@pytest.mark.parametrize(
    ("waits", "counts"),
    [
        # waited more than a quarter of the run time in two windows in a row: one lane
        ([26, 26], [2, 1]),
        ([26, 20, 26, 26], [2, 2, 2, 1]),  # not in a row: only at the second pair
        ([25, 25, 25], [2, 2, 2]),  # a quarter exactly is not more
        # back to both after ten windows in a row below 0.15, not before
        ([30, 30, *[14] * 9], [2, 1, *[1] * 9]),
        ([30, 30, *[14] * 10], [2, 1, *[1] * 9, 2]),
        ([30, 30, *[14] * 5, 15, *[14] * 9], [2, 1, *[1] * 15]),  # 0.15 breaks the run
        ([30, 30, *[14] * 5, 15, *[14] * 10], [2, 1, *[1] * 15, 2]),
    ],
)
def test_the_lane_count_follows_the_share_of_time_spent_waiting_for_a_cpu(
    waits: list[int], counts: list[int]
) -> None:
    """Each window: the thread ran 100 ms and waited the given ms for a CPU."""
    governor = LaneGovernor(_lanes(16, 2))
    seen = []
    for waited in waits:
        governor.active = governor.judge(100 * MS, waited * MS, 100 * MS)
        seen.append(governor.active)
    assert seen == counts


def test_a_window_in_which_the_thread_hardly_ran_says_nothing() -> None:
    governor = LaneGovernor(_lanes(16, 2))
    seen = []
    # under 5 % of the window run: neither counted nor breaking a run of windows
    for ran, waited in [(30, 10), (4, 0), (30, 10), (4, 4), (4, 0)]:
        governor.active = governor.judge(ran * MS, waited * MS, 100 * MS)
        seen.append(governor.active)
    assert seen == [2, 2, 1, 1, 1]


def test_one_lane_takes_the_whole_concurrency_after_the_tasks_held_have_ended() -> None:
    lanes = _lanes(16, 2)
    first, second = lanes.members
    assert [first.concurrency, second.concurrency] == [8, 8]
    first.hold(8)
    second.hold(8)
    governor = LaneGovernor(lanes)
    governor.use(1)
    assert [first.concurrency, second.concurrency] == [16, 0]
    assert isinstance(second.transport, RedisTransport)
    # no lane fetches until the tasks held have ended, so that the next batch is one
    assert lanes.gathering and (first.free(), second.free()) == (0, 0)
    second.released(8)
    assert (first.free(), second.free()) == (0, 0)
    first.released(7)
    assert (first.free(), second.free()) == (0, 0)
    first.released(1)
    assert not lanes.gathering and (first.free(), second.free()) == (16, 0)
    governor.use(2)
    assert [first.concurrency, second.concurrency] == [8, 8]
    first.hold(16)  # held before the lanes grew back: the second waits for room
    assert (first.free(), second.free()) == (-8, 0)
    first.released(5)
    assert (first.free(), second.free()) == (-3, 5)


def test_gathering_ends_with_the_next_window_even_if_tasks_are_still_held() -> None:
    lanes = _lanes(4, 2)
    lanes.members[0].hold(1)
    lanes.gather()
    assert lanes.members[0].free() == 0
    lanes.gather(False)
    assert lanes.members[0].free() == 1
    empty = _lanes(4, 2)
    empty.gather()  # nothing held: nothing to wait for
    assert not empty.gathering


@linux_only
def test_cpu_times_are_the_calling_threads_run_and_wait() -> None:
    before = cpu_times()
    assert before is not None
    deadline = time.perf_counter() + 0.05
    while time.perf_counter() < deadline:
        pass
    after = cpu_times()
    assert after is not None
    assert after[0] - before[0] >= 40 * MS  # it ran (most of) the 50 ms it spun
    assert after[1] >= before[1]


def _spin(seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        pass


@pytest.fixture
def busy_cpus() -> Iterator[None]:
    """Twice as many spinning processes as there are CPUs."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_spin, args=(20.0,)) for _ in range(2 * (os.cpu_count() or 1))]
    for p in procs:
        p.start()
    time.sleep(0.5)  # started and spinning
    try:
        yield
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.join()


@linux_only
def test_a_thread_among_more_busy_processes_than_cpus_is_seen_waiting(busy_cpus: None) -> None:
    before = cpu_times()
    _spin(0.5)
    after = cpu_times()
    assert before is not None and after is not None
    ran, waited = after[0] - before[0], after[1] - before[1]
    assert waited / ran > CROWDED


CPU_CGROUP = Path("/sys/fs/cgroup/cpu")  # cgroup v1's cpu controller
_THROTTLED = """
import sys, time
from redtask.worker.lanes import cpu_times
open(sys.argv[1], "w").write("0")  # join the cgroup: this process, half a CPU at most
before = cpu_times()
deadline = time.perf_counter() + 0.6
while time.perf_counter() < deadline:
    pass
after = cpu_times()
print(after[0] - before[0], after[1] - before[1])
"""


@linux_only
def test_a_thread_throttled_at_its_cgroups_cpu_quota_is_seen_waiting(tmp_path: Path) -> None:
    """A container at its CPU limit (a Kubernetes pod's ``resources.limits.cpu``): the time the
    kernel holds it back counts as time waited for a CPU, so its worker polls with one lane."""
    if not os.access(CPU_CGROUP / "cgroup.procs", os.W_OK):
        pytest.skip("no writable cgroup v1 cpu controller here")
    group = CPU_CGROUP / f"redtask-test-{os.getpid()}"
    group.mkdir()
    try:
        (group / "cpu.cfs_period_us").write_text("100000")
        (group / "cpu.cfs_quota_us").write_text("50000")
        out = subprocess.run(
            [sys.executable, "-c", _THROTTLED, str(group / "cgroup.procs")],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    finally:
        group.rmdir()  # its only process has exited
    ran, waited = (int(x) for x in out.split())
    assert 250 * MS <= ran <= 400 * MS  # half of the 0.6 s it spun, give or take a period
    assert waited / ran > CROWDED


async def test_a_resting_lane_gives_back_what_it_locked_ahead(store: Store, topic: str) -> None:
    await store.publish_many([NewTask(topic) for _ in range(4)])
    transport = RedisTransport(store=store, lanes=2)
    sub = Subscription(topic, 60_000)
    _, lane = transport.lanes(4)
    assert isinstance(lane, RedisLane)
    try:
        fetched = await lane.fetch_and_lock("w1", 2, [sub], use_priority=True, wait_ms=0)
        await asyncio.gather(*(lane.complete(t, {}, {}) for t in fetched))  # locks 2 ahead
        while lane._ahead_fetch is not None:
            await asyncio.sleep(0.01)
        stats = {s.topic_name: s for s in await store.topic_stats()}[topic]
        assert (stats.available, stats.locked) == (0, 2)
        lane.rest(True)
        while lane._giving_back is not None:
            await asyncio.sleep(0.01)
        stats = {s.topic_name: s for s in await store.topic_stats()}[topic]
        assert (stats.available, stats.locked) == (2, 0)  # fetchable by anyone at once
        # resting, its completions lock nothing ahead
        again = await lane.fetch_and_lock("w1", 2, [sub], use_priority=True, wait_ms=0)
        await asyncio.gather(*(lane.complete(t, {}, {}) for t in again))
        assert lane._ahead_fetch is None and lane._ahead == []
        assert {s.topic_name for s in await store.topic_stats()} == set()
    finally:
        await transport.aclose()


async def test_a_regrouped_fetch_hands_out_the_tasks_locked_ahead_with_the_rest(
    store: Store, topic: str
) -> None:
    await store.publish_many([NewTask(topic) for _ in range(10)])
    transport = RedisTransport(store=store, lanes=1)
    sub = Subscription(topic, 60_000)
    try:
        fetched = await transport.fetch_and_lock("w1", 2, [sub], use_priority=True, wait_ms=0)
        await asyncio.gather(*(transport.complete(t, {}, {}) for t in fetched))  # 2 ahead
        while transport._lane._ahead_fetch is not None:
            await asyncio.sleep(0.01)
        plain = await transport.fetch_and_lock("w1", 5, [sub], use_priority=True, wait_ms=0)
        assert len(plain) == 2  # what was locked ahead, at once
        await asyncio.gather(*(transport.complete(t, {}, {}) for t in plain))  # 2 ahead again
        while transport._lane._ahead_fetch is not None:
            await asyncio.sleep(0.01)
        transport.regroup()
        grouped = await transport.fetch_and_lock("w1", 5, [sub], use_priority=True, wait_ms=0)
        assert len(grouped) == 5  # the 2 locked ahead and 3 more, in one hand-out
        assert len({t.id for t in grouped}) == 5
        stats = {s.topic_name: s for s in await store.topic_stats()}[topic]
        assert (stats.available, stats.locked) == (1, 5)
    finally:
        await transport.aclose()


def _watch(
    monkeypatch: pytest.MonkeyPatch, crowded: Callable[[int], bool], window: float
) -> list[int]:
    """Let the CPU watch read, every ``window`` seconds, a window in which the thread waited
    for a CPU half the time it ran when ``crowded(n)`` for the n-th reading, and not at all
    otherwise; returns the lane counts it switches to, as they come."""
    readings = 0

    def sample() -> tuple[int, int]:
        nonlocal readings
        readings += 1
        ran = readings * 10 * MS
        return ran, ran // 2 if crowded(readings) else 0

    monkeypatch.setattr(lanes_module, "cpu_times", sample)
    monkeypatch.setattr(lanes_module, "WINDOW_S", window)
    switches: list[int] = []
    use = LaneGovernor.use

    def spy(self: LaneGovernor, active: int) -> None:
        if active != self.active:
            switches.append(active)
        use(self, active)

    monkeypatch.setattr(LaneGovernor, "use", spy)
    return switches


async def test_a_worker_switching_lanes_runs_every_task_once_within_its_concurrency(
    store: Store, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two crowded 10 ms windows, then ten roomy ones, over and over: the worker shrinks to one
    lane and grows back every 0.12 s while it works through 1,500 tasks (0.75 s at least)."""
    switches = _watch(monkeypatch, lambda n: n % 12 < 2, 0.01)
    transport = RedisTransport(store=store, lanes=2)
    peak = await run_each_once(store, topic, transport, 1500, 6, 0.003)
    assert peak == 6  # never more handlers than the concurrency
    assert switches.count(1) >= 3 and switches.count(2) >= 3  # it did shrink and grow


@pytest.mark.parametrize(("adaptive", "expected"), [(True, [1]), (False, [])])
async def test_adaptive_lanes_can_be_turned_off(
    store: Store,
    topic: str,
    monkeypatch: pytest.MonkeyPatch,
    adaptive: bool,
    expected: list[int],
) -> None:
    switches = _watch(monkeypatch, lambda n: True, 0.01)
    transport = RedisTransport(store=store, lanes=2, adaptive_lanes=adaptive)
    await run_each_once(store, topic, transport, 100, 4, 0.003)
    assert switches == expected


def test_the_readme_states_the_thresholds_the_worker_uses() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    text = " ".join(readme.split())
    assert CROWDED == 0.25 and "more than a quarter of the time it runs, in two" in text
    assert lanes_module.CROWDED_WINDOWS == 2 and lanes_module.ROOMY_WINDOWS == 10
    assert f"{lanes_module.WINDOW_S} s windows in a row" in text
    assert f"waited less than {ROOMY} of it for ten windows in a row" in text
