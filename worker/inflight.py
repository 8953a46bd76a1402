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
    """One poll lane: its share of the worker's concurrency, how many tasks it holds, the
    transport its tasks are fetched and reported through, and the event set when one ends."""

    transport: Transport
    concurrency: int
    held: int = 0
    capacity: asyncio.Event = field(default_factory=asyncio.Event)

    def released(self) -> None:
        self.held -= 1
        self.capacity.set()


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
