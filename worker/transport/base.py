"""The transport contract the runtime drives; both transports keep it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redtask.worker.task import ExternalTask
from redtask.worker.values import TypedValue


@dataclass(frozen=True, slots=True)
class Subscription:
    """One topic of a fetchAndLock request, with Camunda's topic filters."""

    topic: str
    lock_duration: int
    variables: tuple[str, ...] | None = None
    local_variables: bool = False
    business_key: str | None = None
    process_definition_key: str | None = None
    process_definition_key_in: tuple[str, ...] | None = None
    tenant_id_in: tuple[str, ...] | None = None
    without_tenant_id: bool = False
    process_variables: Mapping[str, Any] | None = None
    include_extension_properties: bool = False


class Transport(Protocol):
    """Every method raises worker.errors.Unavailable (retry later), TaskLost (the task is no
    longer ours) or Rejected (the server refused the input)."""

    async def fetch_and_lock(
        self,
        worker_id: str,
        max_tasks: int,
        subscriptions: Sequence[Subscription],
        *,
        use_priority: bool,
        wait_ms: int,
    ) -> list[ExternalTask]:
        """Lock up to ``max_tasks``; waits up to ``wait_ms`` for one to become available."""
        ...

    async def complete(
        self,
        task: ExternalTask,
        variables: Mapping[str, TypedValue],
        local_variables: Mapping[str, TypedValue],
    ) -> None: ...

    async def failure(
        self,
        task: ExternalTask,
        error_message: str,
        error_details: str | None,
        retries: int,
        retry_timeout: int,
    ) -> None: ...

    async def bpmn_error(
        self,
        task: ExternalTask,
        error_code: str,
        error_message: str | None,
        variables: Mapping[str, TypedValue],
    ) -> None: ...

    async def extend_lock(self, task: ExternalTask, new_duration: int) -> None: ...

    async def unlock(self, task: ExternalTask) -> None: ...

    async def aclose(self) -> None: ...


def lanes_of(transport: Transport, concurrency: int) -> list[Transport]:
    """The transports of a worker's poll lanes: a transport that offers lanes (``lanes``, as
    the direct-Redis one does) splits a worker's ``concurrency`` into them; any other serves
    one lane, itself."""
    split = getattr(transport, "lanes", None)
    return list(split(concurrency)) if split is not None else [transport]
