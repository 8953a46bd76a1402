"""What a worker holds while a task runs: the task's record, the batch it was fetched in and
the poll lane that fetched it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redtask.worker.router import TaskSpec
from redtask.worker.task import ExternalTask

if TYPE_CHECKING:
    from redtask.worker.transport.base import Transport


@dataclass(slots=True)
class Lane:
    """One poll lane: its share of the worker's concurrency (0 while it rests, see
    ``worker.lanes``), the transport its tasks are fetched and reported through, the worker's
    lanes it belongs to, how many tasks it holds (counting a fetch under way as the tasks it
    asked for) and the event set when it may have room again."""

    transport: Transport
    concurrency: int
    worker: Lanes
    held: int = 0
    capacity: asyncio.Event = field(default_factory=asyncio.Event)

    def free(self) -> int:
        """How many tasks the lane may fetch now: its share's room, and no more than the
        worker's room (a lane whose share shrank may still hold tasks)."""
        worker = self.worker
        if worker.gathering:
            return 0
        return min(self.concurrency - self.held, worker.concurrency - worker.held)

    def hold(self, n: int) -> None:
        self.held += n
        self.worker.held += n

    def released(self, n: int = 1) -> None:
        self.held -= n
        worker = self.worker
        worker.held -= n
        if worker.gathering and worker.held == 0:
            worker.gathering = False
        worker.wake()


@dataclass(slots=True)
class Lanes:
    """A worker's poll lanes and its concurrency: the lanes together hold no more than it."""

    concurrency: int
    members: list[Lane] = field(default_factory=list)
    held: int = 0
    # no lane fetches until the lanes hold nothing (see ``gather``)
    gathering: bool = False

    def add(self, transport: Transport) -> Lane:
        """A new lane, with no share until ``share``."""
        lane = Lane(transport, 0, self)
        self.members.append(lane)
        return lane

    def gather(self, gathering: bool = True) -> None:
        """Stop fetching until every task held has ended (or ``gather(False)``): the fetches
        after that start together, as one batch."""
        self.gathering = gathering and self.held > 0
        if not self.gathering:
            self.wake()

    def wake(self) -> None:
        """Wake the pollers of the lanes that have room."""
        for lane in self.members:
            if lane.free() > 0:
                lane.capacity.set()

    def share(self, active: int) -> None:
        """Share the concurrency out among the first ``active`` lanes (the first ones taking
        one more when it does not divide); the others get none and rest."""
        share, extra = divmod(self.concurrency, active)
        for i, lane in enumerate(self.members):
            lane.concurrency = share + (i < extra) if i < active else 0
        self.wake()


@dataclass(slots=True)
class Running:
    task: ExternalTask
    spec: TaskSpec
    deadline: float  # monotonic time our lock ends, as far as we know
    batch: Batch
    # what to wait for until the job ends: its task, or the commit of its completion
    job: asyncio.Future[Any] | None = None
    keeper: asyncio.Task[None] | None = None  # only once the handler has run half the lock
    handling: bool = True  # the handler has not returned yet
    lost: bool = False
    lane: Lane | None = None  # None: reported through the reporter's own transport


@dataclass(slots=True)
class Batch:
    """Tasks fetched together with one lock duration. Most handlers end long before half
    their lock, so instead of a lock keeper each, the batch has one timer, which starts keepers
    for the handlers still running at half the lock (and is cancelled when none is left)."""

    members: list[Running] = field(default_factory=list)
    handling: int = 0
    timer: asyncio.TimerHandle | None = None

    def handler_returned(self) -> None:
        self.handling -= 1
        if self.handling == 0:
            if self.timer is not None:
                self.timer.cancel()
            self.members.clear()  # members point back here: let refcounting free them
