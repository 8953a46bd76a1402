"""Id suppliers: the engine never invents ids itself, so a step is a pure function of its inputs."""

from __future__ import annotations

import uuid
from typing import Protocol


class Ids(Protocol):
    """Supplies fresh ids for executions, external tasks, timers and activity instances."""

    def new_id(self) -> str:
        """A fresh id, never returned before."""
        ...

    def new_activity_id(self) -> str:
        """A fresh id for an activity instance (a sequence of its own)."""
        ...


class UuidIds:
    """Production ids: random UUID4 strings, as Camunda's StrongUuidGenerator."""

    def new_id(self) -> str:
        return str(uuid.uuid4())

    def new_activity_id(self) -> str:
        return str(uuid.uuid4())


class CounterIds:
    """Deterministic ids ``<prefix>1``, ``<prefix>2``, ... (tests, replays)."""

    def __init__(self, prefix: str = "", start: int = 1) -> None:
        self.prefix = prefix
        self.next = start
        self.next_activity = start

    def new_id(self) -> str:
        value = f"{self.prefix}{self.next}"
        self.next += 1
        return value

    def new_activity_id(self) -> str:
        value = f"{self.prefix}a{self.next_activity}"
        self.next_activity += 1
        return value
