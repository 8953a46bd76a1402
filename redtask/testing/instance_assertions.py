"""Assertions on one process instance (see :mod:`redtask.testing.assertions`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from redtask.broker.engine import InstanceState
from redtask.broker.history import HistoricInstance
from redtask.broker.model import ExternalTask, Incident
from redtask.testing.describing import (
    Expected,
    describe_incident,
    describe_task,
    incident_matches,
    incident_wanted,
    python_values,
    variable_problems,
    variables_line,
)
from redtask.testing.task_assertions import TaskAssert


@dataclass(frozen=True, slots=True)
class InstanceSnapshot:
    """What the broker read of one instance: its engine state (None once forgotten), its
    history record, the elements it entered (None when its steps were not committed through
    this broker), its external tasks and open incidents."""

    id: str
    state: InstanceState | None
    historic: HistoricInstance | None
    path: list[str] | None
    tasks: list[ExternalTask]
    incidents: list[Incident]
    now_ms: int


class InstanceAssert:
    """Checks on one process instance; each returns the assertion, so they chain."""

    __slots__ = ("snapshot",)

    def __init__(self, snapshot: InstanceSnapshot) -> None:
        self.snapshot = snapshot

    # ------------------------------------------------------------ what was read
    @property
    def id(self) -> str:
        return self.snapshot.id

    @property
    def exists(self) -> bool:
        return self.snapshot.state is not None

    @property
    def status(self) -> str:
        """``active``, ``completed`` or ``terminated``; ``forgotten`` when not (or no longer)
        stored."""
        state = self.snapshot.state
        return "forgotten" if state is None else state.status

    @property
    def typed_variables(self) -> dict[str, dict[str, Any]]:
        state = self.snapshot.state
        return {} if state is None else {k: dict(v) for k, v in state.variables.items()}

    @property
    def variables(self) -> dict[str, Any]:
        """The process variables as Python values (as a handler receives them)."""
        return python_values(self.typed_variables)

    @property
    def waiting_at(self) -> list[str]:
        """The activities a token is at now (external tasks, timers, messages, joins,
        sub-processes), in creation order; an activity with two tokens is listed twice."""
        state = self.snapshot.state
        if state is None or state.status != "active":
            return []
        return [e.element_id for e in state.executions if e.element_id is not None]

    @property
    def path(self) -> list[str] | None:
        """Every element the instance entered, in order; None when unknown to this broker."""
        return None if self.snapshot.path is None else list(self.snapshot.path)

    @property
    def passed(self) -> list[str]:
        """The elements entered and left at least once, in the order first entered."""
        path = self.snapshot.path or []
        entered, here = Counter(path), Counter(self.waiting_at)
        return [e for e in dict.fromkeys(path) if entered[e] > here[e]]

    @property
    def incidents(self) -> list[Incident]:
        return list(self.snapshot.incidents)

    @property
    def tasks(self) -> list[ExternalTask]:
        return list(self.snapshot.tasks)

    # ------------------------------------------------------------ description
    def describe(self) -> str:
        """Several lines: the instance, its state, where it waits, its path, variables,
        tasks and incidents."""
        snap, state = self.snapshot, self.snapshot.state
        if state is None:
            return (
                f"process instance {snap.id}: not stored (never started on this broker, or "
                "forgotten after its history retention)"
            )
        key = f", business key {state.business_key!r}" if state.business_key else ""
        lines = [f"process instance {snap.id} ({state.definition_id}{key})"]
        lines.append(f"  state:      {state.status}")
        if state.status == "active":
            waits = []
            for e in state.executions:
                if e.element_id is None:
                    continue
                wait = "" if e.wait is None else f" ({e.wait.kind} {e.wait.ref})"
                waits.append(f"{e.element_id}{wait}")
            lines.append(f"  waiting at: {', '.join(waits) or 'nothing'}")
        if snap.path is not None:
            lines.append(f"  path:       {' -> '.join(snap.path) or 'nothing entered'}")
        else:
            lines.append("  path:       unknown (its steps were not committed by this broker)")
        lines.append(f"  variables:  {variables_line(python_values(state.variables))}")
        for task in snap.tasks:
            lines.append(f"  {describe_task(task, snap.now_ms)}")
        for incident in snap.incidents:
            lines.append(f"  {describe_incident(incident)}")
        return "\n".join(lines)

    def _fail(self, expectation: str, actual: str) -> AssertionError:
        return AssertionError(
            f"Expecting process instance {self.id} {expectation}, but {actual}.\n{self.describe()}"
        )

    def _need_state(self, expectation: str) -> InstanceState:
        if self.snapshot.state is None:
            raise self._fail(expectation, "it is not stored")
        return self.snapshot.state

    def _need_path(self, expectation: str) -> list[str]:
        self._need_state(expectation)
        if self.snapshot.path is None:
            raise self._fail(
                expectation, "its path is unknown (it was not started through this broker)"
            )
        return self.snapshot.path

    # ------------------------------------------------------------ checks
    def does_not_exist(self) -> InstanceAssert:
        """Never started, or forgotten after its history retention."""
        if self.snapshot.state is not None:
            raise self._fail("not to be stored", f"it is {self.snapshot.state.status}")
        return self

    def is_active(self) -> InstanceAssert:
        state = self._need_state("to be active")
        if state.status != "active":
            raise self._fail("to be active", f"it is {state.status}")
        return self

    def is_ended(self) -> InstanceAssert:
        """Completed or terminated (cancelled)."""
        state = self._need_state("to be ended")
        if state.status == "active":
            raise self._fail("to be ended", f"it is waiting at {self.waiting_at}")
        return self

    def is_completed(self) -> InstanceAssert:
        state = self._need_state("to be completed")
        if state.status != "completed":
            raise self._fail("to be completed", f"it is {state.status}")
        return self

    def is_terminated(self) -> InstanceAssert:
        state = self._need_state("to be terminated")
        if state.status != "terminated":
            raise self._fail("to be terminated", f"it is {state.status}")
        return self

    def is_waiting_at(self, *activity_ids: str) -> InstanceAssert:
        """A token is at each of these activities now."""
        expectation = f"to be waiting at {list(activity_ids)}"
        state = self._need_state(expectation)
        if state.status != "active":
            raise self._fail(expectation, f"it is {state.status}")
        missing = [a for a in activity_ids if a not in self.waiting_at]
        if missing or not activity_ids:
            raise self._fail(expectation, f"it is waiting at {self.waiting_at}")
        return self

    def is_waiting_only_at(self, *activity_ids: str) -> InstanceAssert:
        """Tokens are at exactly these activities (in any order), and nowhere else."""
        expectation = f"to be waiting at exactly {sorted(activity_ids)}"
        self._need_state(expectation)
        if sorted(self.waiting_at) != sorted(activity_ids):
            raise self._fail(expectation, f"it is waiting at {sorted(self.waiting_at)}")
        return self

    def is_not_waiting_at(self, *activity_ids: str) -> InstanceAssert:
        expectation = f"not to be waiting at {list(activity_ids)}"
        self._need_state(expectation)
        found = [a for a in activity_ids if a in self.waiting_at]
        if found:
            raise self._fail(expectation, f"it is waiting at {found}")
        return self

    def has_passed(self, *element_ids: str) -> InstanceAssert:
        """Each element was entered and left at least once."""
        expectation = f"to have passed {list(element_ids)}"
        self._need_path(expectation)
        missing = [e for e in element_ids if e not in self.passed]
        if missing:
            raise self._fail(expectation, f"it has not passed {missing} (passed: {self.passed})")
        return self

    def has_passed_in_order(self, *element_ids: str) -> InstanceAssert:
        """The elements were entered in this order (others may come between)."""
        expectation = f"to have passed {list(element_ids)} in this order"
        path = iter(self._need_path(expectation))
        if not all(any(e == step for step in path) for e in element_ids):
            raise self._fail(expectation, f"its path is {self.snapshot.path}")
        return self.has_passed(*element_ids)

    def has_not_passed(self, *element_ids: str) -> InstanceAssert:
        """None of these elements was ever entered."""
        expectation = f"not to have passed {list(element_ids)}"
        path = self._need_path(expectation)
        entered = [e for e in element_ids if e in path]
        if entered:
            raise self._fail(expectation, f"it entered {entered}")
        return self

    def ended_at(self, *end_event_ids: str) -> InstanceAssert:
        """The instance ended, and it reached each of these (end) events."""
        expectation = f"to have ended at {list(end_event_ids)}"
        state = self._need_state(expectation)
        if state.status == "active":
            raise self._fail(expectation, f"it is still waiting at {self.waiting_at}")
        path = self._need_path(expectation)
        missing = [e for e in end_event_ids if e not in path]
        if missing or not end_event_ids:
            raise self._fail(expectation, f"it ended ({state.status}) without reaching {missing}")
        return self

    def has_business_key(self, business_key: str | None) -> InstanceAssert:
        expectation = f"to have business key {business_key!r}"
        state = self._need_state(expectation)
        if state.business_key != business_key:
            raise self._fail(expectation, f"it has {state.business_key!r}")
        return self

    def has_variables(self, *names: str, **values: Any) -> InstanceAssert:
        """Variables ``names`` exist; ``values`` exist with these (Python) values."""
        wanted = list(names) + [f"{k}={v!r}" for k, v in values.items()]
        expectation = f"to have variables {', '.join(wanted)}"
        self._need_state(expectation)
        problems = variable_problems(self.variables, names, values)
        if problems:
            raise self._fail(expectation, "; ".join(problems))
        return self

    def has_no_variables(self, *names: str) -> InstanceAssert:
        """None of these variables exists (no names: the instance has no variables at all)."""
        expectation = f"to have no variables {list(names)}" if names else "to have no variables"
        self._need_state(expectation)
        actual = self.variables
        found = [n for n in (names or actual) if n in actual]
        if found:
            raise self._fail(expectation, f"it has {', '.join(found)}")
        return self

    def has_incident(
        self, message: Expected | None = None, *, activity: str | None = None
    ) -> InstanceAssert:
        """An open incident of this instance (with this message: equal to a str, found by a
        compiled pattern; at this activity)."""
        expectation = "to have " + incident_wanted(message, activity, None, None)
        if not any(
            incident_matches(i, message, activity, None, None) for i in self.snapshot.incidents
        ):
            actual = [describe_incident(i) for i in self.snapshot.incidents]
            raise self._fail(expectation, f"its incidents are {actual or 'none'}")
        return self

    def has_no_incidents(self) -> InstanceAssert:
        if self.snapshot.incidents:
            actual = [describe_incident(i) for i in self.snapshot.incidents]
            raise self._fail("to have no incidents", f"it has {actual}")
        return self

    def task(self, activity_id: str) -> TaskAssert:
        """The external task of this instance at ``activity_id``, to assert on."""
        found = [t for t in self.snapshot.tasks if t.activity_id == activity_id]
        if len(found) != 1:
            raise self._fail(
                f"to have one external task at {activity_id!r}", f"it has {len(found)}"
            )
        task = found[0]
        incident = next((i for i in self.snapshot.incidents if i.id == task.incident_id), None)
        return TaskAssert(task, incident, self.snapshot.now_ms)
