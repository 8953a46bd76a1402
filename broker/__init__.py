"""The broker core: the Redis data model, one Lua script per transition, the process engine and
the scheduler. ``open_store`` connects to Redis and returns the ``Store`` facade (both are
imported on first use: ``redtask.broker.settings`` alone stays cheap to load)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redtask.broker.store import Store, open_store

__all__ = ["Store", "open_store"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from redtask.broker import store

        return getattr(store, name)
    raise AttributeError(f"module 'redtask.broker' has no attribute {name!r}")
