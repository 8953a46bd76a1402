"""The external tasks an operation on many tasks applies to (Camunda's
``UpdateExternalTaskRetriesBuilder``: ``externalTaskIds``, ``processInstanceIds`` and an
``externalTaskQuery`` together)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from redtask.broker.query import TaskQuery

if TYPE_CHECKING:
    from redtask.broker.store import Store


async def select_task_ids(
    store: Store,
    task_ids: Iterable[str] = (),
    process_instance_ids: Iterable[str] = (),
    query: TaskQuery | None = None,
) -> list[str]:
    """The given ids, then the tasks of the given process instances, then the tasks ``query``
    matches: each id once, in that order. Given ids are not checked to exist."""
    selected = list(task_ids)
    instances = tuple(process_instance_ids)
    if instances:
        by_instance = TaskQuery(process_instance_id_in=instances)
        selected += [t.id for t in await store.query(by_instance)]
    if query is not None:
        selected += [t.id for t in await store.query(query)]
    return list(dict.fromkeys(selected))
