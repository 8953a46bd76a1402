"""Translating a fetchAndLock request into the script's topic spec, and its reply back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import orjson

from redtask.broker.engine import InstanceState, visible_variables
from redtask.broker.like import lua_spec
from redtask.broker.model import ExternalTask, TopicRequest


def _intersect(one: str | None, many: Sequence[str] | None) -> list[str] | None:
    if one is None and many is None:
        return None
    if one is None:
        return list(many or ())
    return [one] if many is None or one in many else []


def lua_filters(t: TopicRequest) -> dict[str, Any] | None:
    f: dict[str, Any] = {}
    if t.business_key is not None:
        f["bk"] = t.business_key
    pd = _intersect(t.process_definition_id, t.process_definition_id_in)
    if pd is not None:
        f["pd"] = pd
    pk = _intersect(t.process_definition_key, t.process_definition_key_in)
    if pk is not None:
        f["pk"] = pk
    if t.process_definition_version_tag is not None:
        f["vt"] = lua_spec(t.process_definition_version_tag)
    if t.tenant_id_in is not None:
        f["tin"] = list(t.tenant_id_in)
    elif t.without_tenant_id:
        f["wt"] = True
    if t.process_variables:
        f["pv"] = {name: _json_text(value) for name, value in t.process_variables.items()}
    return f or None


def _json_text(value: Any) -> str:
    """A filter value as JSON text; an integer beyond 64 bits (which no stored variable holds,
    so it matches nothing) is written by the standard library, which orjson refuses."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def fetched_view(
    task: ExternalTask, state: InstanceState | None, request: TopicRequest
) -> ExternalTask:
    """What a locked task shows (as Camunda's LockedExternalTaskImpl#fromEntity): a process task the
    variables visible from its execution in ``state`` (its instance), or with ``localVariables``
    only those of the execution itself; a standalone task is its own execution, so its variables are
    all there is either way. Then the topic's ``variables`` selection applies."""
    if state is not None and task.execution_id:
        executions = {e.id: e for e in state.executions}
        own = executions.get(task.execution_id)
        if own is None:  # the instance moved on since the lock: nothing is visible any more
            variables = {}
        elif request.local_variables:
            variables = dict(own.variables)
        else:
            variables = visible_variables(state, task.execution_id)
        task = replace(task, variables=variables)
    return select_variables(task, request)


def select_variables(task: ExternalTask, request: TopicRequest) -> ExternalTask:
    """Apply the topic's ``variables`` selection (None = all, [] = none)."""
    wanted = request.variables
    hide_ext = task.extension_properties and not request.include_extension_properties
    if wanted is None and not hide_ext:
        return task  # the common case: everything visible, no copy
    visible = task.variables
    if wanted is not None:
        visible = {k: v for k, v in task.variables.items() if k in wanted}
    if not hide_ext and len(visible) == len(task.variables):
        return task  # the selection keeps every variable (or there are none): no copy
    ext = task.extension_properties if request.include_extension_properties else {}
    return replace(task, variables=visible, extension_properties=ext)
