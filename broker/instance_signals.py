"""Signalling an execution (``POST /execution/{id}/signal``, Camunda's RuntimeService#signal):
the execution is found through the ``msg:`` index ``advance.lua`` keeps for every execution
waiting in a receive task or message catch event (or, for a process instance's own id, the
instance itself), then stepped by a command of the executor with a version check like every
other event. Signal *events* (``POST /signal``) are ``broker.signal_delivery``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redtask.broker import engine, variables
from redtask.broker.errors import BrokerError, InstanceNotFound
from redtask.broker.executor import Executor, Found, Write
from redtask.broker.instance_repository import InstanceRepository
from redtask.broker.store_base import Clock


class ExecutionNotFound(BrokerError):
    """No running execution has this id (Camunda: "execution X doesn't exist")."""

    def __init__(self, execution_id: str) -> None:
        super().__init__(f"execution {execution_id} doesn't exist: execution is null")
        self.execution_id = execution_id


class NoSignalSubscription(BrokerError):
    """``POST /signal`` to an execution that has no subscription to the signal (Camunda's
    NotFoundException)."""

    def __init__(self, execution_id: str, signal_name: str) -> None:
        super().__init__(
            f"Execution '{execution_id}' has not subscribed to a signal event with name "
            f"'{signal_name}'."
        )


class SignalExecutionNotFound(BrokerError):
    """``POST /signal`` to an unknown execution (Camunda's NullValueException)."""

    def __init__(self, execution_id: str) -> None:
        super().__init__(f"Cannot find execution with id '{execution_id}': execution is null")


class Signals:
    def __init__(self, repo: InstanceRepository, executor: Executor, clock: Clock) -> None:
        self.repo = repo
        self.executor = executor
        self.clock = clock

    async def signal_execution(
        self, execution_id: str, raw_variables: Mapping[str, Any] | None = None
    ) -> None:
        """Move on the receive task or message catch event the execution waits in, after
        setting ``raw_variables`` from it. ``execution_id`` may be the process instance's id
        when that instance has one execution only.

        Raises InvalidVariable before anything is read; ExecutionNotFound for an unknown or
        ended execution; NotSignallable for one that waits elsewhere.
        """
        typed = variables.normalize(raw_variables)
        instance_id = await self.repo.signalled_instance(execution_id)
        if instance_id is None:
            instance_id = execution_id  # the process instance's own id, or nothing signallable

        async def command(found: Found) -> Write[None]:
            if found.state.status != "active":
                raise ExecutionNotFound(execution_id)
            new_state, effects = engine.signal(
                await found.model(),
                found.state,
                execution_id,
                typed,
                self.clock(),
                found.ids,
                max_bytes=self.repo.settings.max_variables_bytes,
            )
            write = found.commit(new_state, effects)
            return Write(write.send, lambda _: None)

        try:
            await self.executor.execute(instance_id, command, "execution not signalled")
        except InstanceNotFound:
            raise ExecutionNotFound(execution_id) from None
