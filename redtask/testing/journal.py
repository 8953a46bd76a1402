"""What a test broker remembers of each process instance: the elements every committed step
entered, in order (the engine's ``Effects.path``). Redis keeps no activity history (Camunda's
historic activity instances), so "has passed" and "ended at" are answered from this record of
the steps committed through the broker's own store."""

from __future__ import annotations

from collections import Counter

from redtask.broker.engine import Effects, InstanceState


class Journal:
    def __init__(self) -> None:
        self._steps: dict[str, list[tuple[str, ...]]] = {}

    def record(self, state: InstanceState, effects: Effects) -> None:
        """The repository's step observer: called with every committed step."""
        self._steps.setdefault(state.instance_id, []).append(effects.path)

    def knows(self, instance_id: str) -> bool:
        return instance_id in self._steps

    def steps(self, instance_id: str) -> list[tuple[str, ...]]:
        """The elements each committed step of the instance entered, oldest step first."""
        return list(self._steps.get(instance_id, ()))

    def path(self, instance_id: str) -> list[str]:
        """Every element the instance entered, in order (an element entered twice is listed
        twice)."""
        return [element for step in self._steps.get(instance_id, ()) for element in step]

    def entries(self, instance_id: str) -> Counter[str]:
        return Counter(self.path(instance_id))
