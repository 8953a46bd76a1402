"""Signalling an execution (``POST /execution/{id}/signal``, Camunda's RuntimeService#signal):
the execution is found through the ``msg:`` index ``advance.lua`` keeps for every execution
waiting in a receive task or message catch event (or, for a process instance's own id, the
instance itself), then stepped by a command of the executor with a version check like every
other event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from redtask.broker import engine, variables
from redtask.broker.errors import BrokerError, InstanceNotFound
from redtask.broker.executor import Executor, Found, Write
from redtask.broker.instance_repository import InstanceRepository
from redtask.broker.store_base import Clock

if TYPE_CHECKING:
    from redtask.broker.start_events import StartEvents


class ExecutionNotFound(BrokerError):
    """No running execution has this id (Camunda: "execution X doesn't exist")."""

    def __init__(self, execution_id: str) -> None:
        super().__init__(f"execution {execution_id} doesn't exist: execution is null")
        self.execution_id = execution_id


class NoSignalSubscription(BrokerError):
    """``POST /signal`` to an execution that has no signal event subscription: in redtask's
    BPMN subset (no signal events) every execution (Camunda's NotFoundException)."""

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
        self.starts: StartEvents | None = None  # signal start events (the store's)

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

    async def throw_signal(
        self,
        signal_name: str,
        execution_id: str | None = None,
        raw_variables: Mapping[str, Any] | None = None,
        *,
        tenant_id: str | None = None,
        without_tenant_id: bool = False,
    ) -> None:
        """Deliver a signal event (Camunda's SignalEventReceivedCmd) to the signal catch and
        start events subscribed to it. Without ``execution_id`` it starts an instance of every
        latest process definition with a signal start event for ``signal_name`` (of
        ``tenant_id`` only, or without tenant with ``without_tenant_id``), with
        ``raw_variables``; one to ``execution_id`` is refused (redtask has no signal catch
        events; a receive task is no signal event: ``signal_execution`` moves it on).

        Raises InvalidVariable; SignalExecutionNotFound or NoSignalSubscription for an
        ``execution_id`` (known: a process instance or an execution waiting in a receive task
        or message catch event).
        """
        variables.normalize(raw_variables)
        if execution_id is None:
            if self.starts is not None:
                tenant_set = tenant_id is not None or without_tenant_id
                for match in await self.starts.matches(
                    "signal", signal_name, tenant_id, tenant_set
                ):
                    await self.starts.start(match, raw_variables)
            return
        if await self.repo.signalled_instance(execution_id) is None:
            try:
                state, _ = await self.repo.read(execution_id)
            except InstanceNotFound:
                raise SignalExecutionNotFound(execution_id) from None
            if state.status != "active":
                raise SignalExecutionNotFound(execution_id)
        raise NoSignalSubscription(execution_id, signal_name)
