"""Drives one instance through the engine with counter ids and a fixed clock; after every step
the state must survive a JSON round trip unchanged."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from redtask.broker.bpmn import ProcessModel, parse_bpmn
from redtask.broker.engine import (
    CounterIds,
    Effects,
    InstanceState,
    bpmn_error,
    cancel,
    complete_task,
    correlate_message,
    fire_timer,
    start,
    visible_variables,
)

HERE = Path(__file__).parent / "files"
BPMN = Path(__file__).parents[1] / "bpmn" / "files"
NOW = 1_700_000_000_000  # 2023-11-14T22:13:20Z
HOUR = 3_600_000


def load(name: str) -> ProcessModel:
    path = HERE / name if (HERE / name).exists() else BPMN / name
    [model] = parse_bpmn(path.read_bytes(), name)
    return model


def typed(value: Any) -> dict[str, Any]:
    """The typed value redtask stores for a plain JSON value."""
    if value is None:
        return {"type": "Null", "value": None, "valueInfo": {}}
    kind = {bool: "Boolean", int: "Integer", float: "Double", str: "String"}[type(value)]
    return {"type": kind, "value": value, "valueInfo": {}}


def as_json(value: Any) -> dict[str, Any]:
    return {"type": "Json", "value": json.dumps(value), "valueInfo": {}}


def typed_map(values: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {
        name: value if isinstance(value, dict) and "type" in value else typed(value)
        for name, value in (values or {}).items()
    }


def round_trip(state: InstanceState) -> InstanceState:
    data = json.loads(json.dumps(state.to_json()))
    again = InstanceState.from_json(data)
    assert again == state
    assert again.to_json() == data
    return again


class Instance:
    """One process instance under test; ``effects`` are those of the last step."""

    def __init__(
        self,
        fixture: str | ProcessModel,
        variables: Mapping[str, Any] | None = None,
        *,
        business_key: str | None = None,
        tenant_id: str | None = None,
    ) -> None:
        self.model = load(fixture) if isinstance(fixture, str) else fixture
        self.ids = CounterIds()
        self.now = NOW
        state, effects = start(
            self.model, "pi", typed_map(variables), business_key, tenant_id, self.now, self.ids
        )
        self._step(state, effects)

    def _step(self, state: InstanceState, effects: Effects) -> Effects:
        self.state = round_trip(state)
        self.effects = effects
        return effects

    def complete(
        self,
        task_id: str,
        variables: Mapping[str, Any] | None = None,
        local: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Effects:
        state, effects = complete_task(
            self.model,
            self.state,
            task_id,
            typed_map(variables),
            typed_map(local),
            self.now,
            self.ids,
            **kwargs,
        )
        return self._step(state, effects)

    def error(
        self,
        task_id: str,
        code: str,
        message: str | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> Effects:
        state, effects = bpmn_error(
            self.model, self.state, task_id, code, message, typed_map(variables), self.now, self.ids
        )
        return self._step(state, effects)

    def fire(self, timer_id: str) -> Effects:
        state, effects = fire_timer(self.model, self.state, timer_id, self.now, self.ids)
        return self._step(state, effects)

    def correlate(self, name: str, variables: Mapping[str, Any] | None = None) -> str:
        state, effects, execution_id = correlate_message(
            self.model, self.state, name, typed_map(variables), self.now, self.ids
        )
        self._step(state, effects)
        return execution_id

    def cancel(self) -> Effects:
        state, effects = cancel(self.model, self.state)
        return self._step(state, effects)

    # views --------------------------------------------------------------------------------

    @property
    def path(self) -> list[str]:
        return list(self.effects.path)

    @property
    def created(self) -> dict[str, str]:
        """Activity id -> task id of the tasks created by the last step."""
        return {t.activity_id: t.id for t in self.effects.tasks_created}

    @property
    def tasks(self) -> dict[str, str]:
        """Activity id -> task id of every task the instance waits for."""
        return {
            e.element_id or "": e.wait.ref
            for e in self.state.executions
            if e.wait is not None and e.wait.kind == "task"
        }

    @property
    def variables(self) -> dict[str, Any]:
        """Process-level variables as plain values."""
        return {name: value["value"] for name, value in self.state.variables.items()}

    def visible(self, execution_id: str) -> dict[str, Any]:
        """The plain values an execution sees."""
        return {k: v["value"] for k, v in visible_variables(self.state, execution_id).items()}

    def locals(self, element_id: str) -> dict[str, Any]:
        [execution] = [e for e in self.state.executions if e.element_id == element_id]
        return {name: value["value"] for name, value in execution.variables.items()}
