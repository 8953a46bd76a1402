"""How many poll lanes a worker uses: all of them while its thread gets a CPU when it needs one,
one while it waits for CPUs already busy.

Lanes overlap this process's work with Redis's: while one lane's batch is in Redis, the other
lane's handlers run here. That pays while a core is free for each. When the process mostly
waits for a CPU (more busy processes than cores: worker processes beside their Redis on a small
machine), there is nothing left to overlap, and a second lane only doubles the round trips,
halving the batches. Linux counts, per thread, the time it ran and the time it waited runnable
for a CPU (``/proc/thread-self/schedstat``); the ratio of the two over short windows says which
case the worker is in. Where that file is missing, the worker keeps all its lanes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from redtask.worker.inflight import Lanes

log = logging.getLogger("redtask.worker")

SCHEDSTAT = Path("/proc/thread-self/schedstat")
# one lane once the thread waited for a CPU more than CROWDED of the time it ran, in
# CROWDED_WINDOWS windows in a row; all lanes again after ROOMY_WINDOWS windows in a row below
# ROOMY. Shrinking is quick and growing slow: one lane's fewer, fuller batches let the other
# processes on the CPUs run more freely, so a window or two of little waiting says little
CROWDED = 0.25
CROWDED_WINDOWS = 2
ROOMY = 0.15
ROOMY_WINDOWS = 10
# a window in which the thread ran less than this share of it says nothing: an idle worker's
# few wake-ups wait for a CPU as long as they like without slowing anything
BUSY = 0.05
WINDOW_S = 0.1

Sample = Callable[[], "tuple[int, int] | None"]


def cpu_times() -> tuple[int, int] | None:
    """(ns run on a CPU, ns waited runnable for one) of the calling thread; None where the
    kernel does not say."""
    try:
        run, wait, _ = SCHEDSTAT.read_bytes().split()
        return int(run), int(wait)
    except (OSError, ValueError):
        return None


class LaneGovernor:
    """Shares a worker's concurrency among all its ``lanes``, or the first alone while the
    thread it runs on waits for a CPU (see the module docstring). ``sample`` reads the
    thread's CPU times (default ``cpu_times``); ``window_s`` is how often it looks (default
    ``WINDOW_S``)."""

    def __init__(
        self, lanes: Lanes, sample: Sample | None = None, window_s: float | None = None
    ) -> None:
        self.lanes = lanes
        self.sample = sample or cpu_times
        self.window_s = WINDOW_S if window_s is None else window_s
        self.most = len(lanes.members)
        self.active = self.most
        self.roomy = 0  # windows in a row below ROOMY
        self.crowded = 0  # windows in a row above CROWDED

    def judge(self, ran_ns: int, waited_ns: int, window_ns: int) -> int:
        """The lane count after a window in which the thread ran ``ran_ns`` and waited for a
        CPU ``waited_ns``; a window that says nothing (an idle worker) changes nothing."""
        if ran_ns < BUSY * window_ns:
            return self.active
        ratio = waited_ns / ran_ns
        self.roomy = self.roomy + 1 if ratio < ROOMY else 0
        self.crowded = self.crowded + 1 if ratio > CROWDED else 0
        if self.active > 1 and self.crowded >= CROWDED_WINDOWS:
            return 1
        if self.active == 1 and self.roomy >= ROOMY_WINDOWS:
            return self.most
        return self.active

    def use(self, active: int) -> None:
        """Poll with the first ``active`` lanes; the others rest (see ``Lanes.share``), and a
        resting lane's transport gives back what it locked ahead (``rest``, where it has one)."""
        if active == self.active:
            return
        log.debug("poll lanes: %d of %d", active, self.most)
        shrinking = active < self.active
        self.active = active
        if shrinking:
            # the lanes left in use fetch again once every task held has ended, together,
            # so that their batches (and their commits) merge instead of keeping their phases
            self.lanes.gather()
            for lane in self.lanes.members[:active]:
                regroup = getattr(lane.transport, "regroup", None)
                if regroup is not None:
                    regroup()
        self.lanes.share(active)
        for i, lane in enumerate(self.lanes.members):
            rest = getattr(lane.transport, "rest", None)
            if rest is not None:
                rest(i >= active)

    async def run(self) -> None:
        """Look every ``window_s`` until cancelled; returns at once where ``sample`` cannot say.
        Should it fail (a bug), all lanes stay in use: the worker runs on as configured."""
        try:
            await self._follow()
        except Exception:
            log.exception("poll lanes: the CPU watch failed; all %d lanes stay in use", self.most)
            self.lanes.gather(False)
            self.use(self.most)

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        last = self.sample()
        if last is None or self.most < 2:
            return
        at = loop.time()
        while True:
            await asyncio.sleep(self.window_s)
            now, times = loop.time(), self.sample()
            if times is None:
                return
            if self.lanes.gathering:  # a window is long enough to wait: go on unmerged
                self.lanes.gather(False)
            window_ns = int((now - at) * 1e9)
            self.use(self.judge(times[0] - last[0], times[1] - last[1], window_ns))
            last, at = times, now
