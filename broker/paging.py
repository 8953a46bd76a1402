"""Sorting and paging of query results, the one implementation every query uses.

Camunda's REST queries take ``sorting`` as (sortBy, sortOrder) pairs: the first pair sorts
first, nulls come last in either direction, and ``firstResult``/``maxResults`` cut a page.
Items that compare equal on every pair keep the order ``tie_break`` gives them (or the order
they came in without one): Camunda's SQL falls back to ``order by RES.ID_``, which callers ask
for with ``tie_break=by_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from redtask.broker.errors import InvalidArgument

T = TypeVar("T")


class HasId(Protocol):
    @property
    def id(self) -> str: ...


def by_id(item: HasId) -> str:
    return item.id


def sort_and_page(
    items: Iterable[T],
    fields: Mapping[str, Callable[[T], Any]],
    sorting: Sequence[tuple[str, str]] = (),
    first_result: int | None = None,
    max_results: int | None = None,
    *,
    tie_break: Callable[[T], Any] | None = None,
) -> list[T]:
    """Sort by (field, "asc"|"desc") pairs, nulls last, ties by ``tie_break``; then page.

    Raises InvalidArgument for a field not in ``fields`` or an order other than asc/desc.
    """
    ordered = sorted(items, key=tie_break) if tie_break is not None else list(items)
    for name, direction in reversed(list(sorting)):
        if name not in fields:
            raise InvalidArgument(f"Cannot set query parameter 'sortBy' to value '{name}'")
        if direction not in ("asc", "desc"):
            raise InvalidArgument(f"Cannot set query parameter 'sortOrder' to value '{direction}'")
        key = fields[name]
        present = [x for x in ordered if key(x) is not None]
        present.sort(key=key, reverse=direction == "desc")
        ordered = present + [x for x in ordered if key(x) is None]
    start = first_result or 0
    return ordered[start : None if max_results is None else start + max_results]
