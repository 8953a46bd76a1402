"""Calling a handler: variables injected by parameter name, the result read as an outcome."""

from __future__ import annotations

import inspect
import traceback
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from redtask.worker.task import BpmnError, Complete, ExternalTask, TaskFailure

_MISSING = object()


@dataclass(frozen=True, slots=True)
class Signature:
    """What a handler asks for: the task object, named variables, or all variables."""

    task_param: str | None
    variables: tuple[tuple[str, Any], ...]  # (name, default or _MISSING)
    all_variables: bool
    is_async: bool

    @classmethod
    def of(cls, function: Callable[..., Any]) -> Signature:
        sig = inspect.signature(function)
        try:
            hints = typing.get_type_hints(function)
        except Exception:  # unresolvable forward references: fall back to names
            hints = {}
        task_param = None
        variables = []
        all_variables = False
        for p in sig.parameters.values():
            annotation = hints.get(p.name, p.annotation)
            if p.kind is p.VAR_KEYWORD:
                all_variables = True
            elif p.kind is p.VAR_POSITIONAL:
                continue
            elif annotation is ExternalTask or annotation == "ExternalTask":
                task_param = p.name
            else:
                if p.kind is p.POSITIONAL_ONLY:
                    raise TypeError(
                        f"{function.__qualname__}: parameter {p.name!r} is positional-only"
                    )
                variables.append((p.name, _MISSING if p.default is p.empty else p.default))
        return cls(
            task_param=task_param,
            variables=tuple(variables),
            all_variables=all_variables,
            is_async=inspect.iscoroutinefunction(function),
        )

    def fetch_variables(self) -> tuple[str, ...] | None:
        """The variables to fetch: all (None) if the handler takes ``**kwargs`` or the task."""
        if self.all_variables or self.task_param is not None:
            return None
        return tuple(name for name, _ in self.variables)

    def arguments(self, task: ExternalTask) -> dict[str, Any]:
        """Keyword arguments for one call. Raises TaskFailure for a missing required variable."""
        # converted only for a handler that takes variables
        values = task.variables if self.variables or self.all_variables else {}
        kwargs: dict[str, Any] = {}
        for name, default in self.variables:
            if name in values:
                kwargs[name] = values[name]
            elif default is not _MISSING:
                kwargs[name] = default
            else:
                raise TaskFailure(f"task {task.id} has no variable {name!r} (handler parameter)")
        if self.all_variables:
            taken = {name for name, _ in self.variables}
            kwargs.update({k: v for k, v in values.items() if k not in taken})
        if self.task_param is not None:
            kwargs[self.task_param] = task
        return kwargs


@dataclass(frozen=True, slots=True)
class Failed:
    """A failure to report: retries/timeout None means the task's retry policy decides."""

    message: str
    details: str | None
    retries: int | None = None
    retry_timeout_ms: int | None = None


Outcome = Complete | BpmnError | Failed


def outcome_of_result(result: Any) -> Outcome:
    """A handler's return value as an outcome: None or a mapping completes."""
    if result is None:
        return Complete()
    if isinstance(result, Complete):
        return result
    if isinstance(result, Mapping):
        return Complete(variables=result)
    return Failed(
        f"handler returned {type(result).__name__}; expected a dict, Complete or None", None
    )


def outcome_of_error(exc: BaseException) -> Outcome:
    """A handler's exception as an outcome: BpmnError, TaskFailure, or a failure with traceback."""
    if isinstance(exc, BpmnError):
        return exc
    if isinstance(exc, TaskFailure):
        return Failed(exc.message, exc.details, exc.retries, exc.retry_timeout_ms)
    message = str(exc) or type(exc).__name__
    return Failed(f"{type(exc).__name__}: {message}", "".join(traceback.format_exception(exc)))
