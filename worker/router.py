"""Registering handlers: ``@router.task("topic")`` and ``include_router``, as in pyzeebe."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from redtask.worker.backoff import Backoff, RetryPolicy
from redtask.worker.handler import Signature
from redtask.worker.transport.base import Subscription

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_LOCK_DURATION_MS = 30_000


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One registered handler and how its topic is fetched, retried and run."""

    function: Callable[..., Any]
    signature: Signature
    subscription: Subscription
    retry: RetryPolicy
    isolated: bool

    @property
    def topic(self) -> str:
        return self.subscription.topic


class Router:
    """A group of handlers. ``lock_duration`` (ms), ``retries`` and ``backoff`` given here are
    the defaults of the router's tasks."""

    def __init__(
        self,
        *,
        lock_duration: int = DEFAULT_LOCK_DURATION_MS,
        retries: int = 3,
        backoff: Backoff | None = None,
    ) -> None:
        self.lock_duration = lock_duration
        self.retries = retries
        self.backoff = backoff or Backoff()
        self.specs: dict[str, TaskSpec] = {}

    def task(
        self,
        topic: str,
        *,
        lock_duration: int | None = None,
        variables: list[str] | tuple[str, ...] | None = None,
        local_variables: bool = False,
        retries: int | None = None,
        backoff: Backoff | None = None,
        isolated: bool = False,
        business_key: str | None = None,
        process_definition_key: str | None = None,
        process_definition_key_in: list[str] | tuple[str, ...] | None = None,
        tenant_id_in: list[str] | tuple[str, ...] | None = None,
        without_tenant_id: bool = False,
        process_variables: Mapping[str, Any] | None = None,
        include_extension_properties: bool = False,
    ) -> Callable[[F], F]:
        """Register the decorated function for ``topic`` and return it unchanged.

        ``variables`` selects what is fetched (default: the handler's parameter names, or all
        variables if it takes ``**kwargs`` or an ``ExternalTask``). ``retries`` are the retries
        after the first failure; the retry timeout follows ``backoff``. ``isolated`` runs a sync
        handler in a separate process (CPU-bound work). The other arguments are Camunda's
        fetchAndLock topic filters. Raises ValueError for a topic registered twice.
        """
        if not topic:
            raise ValueError("a task needs a topic name")
        duration = self.lock_duration if lock_duration is None else lock_duration
        if duration <= 0:
            raise ValueError("lock_duration must be a positive number of milliseconds")

        def register(function: F) -> F:
            signature = Signature.of(function)
            if isolated and signature.is_async:
                raise ValueError(f"{topic}: an isolated handler must be a plain function")
            selected = signature.fetch_variables() if variables is None else tuple(variables)
            subscription = Subscription(
                topic=topic,
                lock_duration=duration,
                variables=selected,
                local_variables=local_variables,
                business_key=business_key,
                process_definition_key=process_definition_key,
                process_definition_key_in=_tuple(process_definition_key_in),
                tenant_id_in=_tuple(tenant_id_in),
                without_tenant_id=without_tenant_id,
                process_variables=process_variables,
                include_extension_properties=include_extension_properties,
            )
            policy = RetryPolicy(
                self.retries if retries is None else retries, backoff or self.backoff
            )
            self._add(TaskSpec(function, signature, subscription, policy, isolated))
            return function

        return register

    def include_router(self, *routers: Router) -> None:
        """Add the handlers of other routers (their own defaults stay with their tasks)."""
        for router in routers:
            for spec in router.specs.values():
                self._add(spec)

    def _add(self, spec: TaskSpec) -> None:
        if spec.topic in self.specs:
            raise ValueError(f"topic {spec.topic!r} already has a handler")
        self.specs[spec.topic] = spec


def _tuple(values: list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)
