"""Message correlation for process instances (``POST /message``, Camunda's
MessageCorrelationBuilderImpl): the instances waiting for a message name are found through the
per-partition ``msg:<name>`` sets that ``advance.lua`` keeps (or, given a process instance id,
that instance alone), the waiting executions are matched against a
:class:`~broker.correlation.CorrelationSet`, then each chosen execution is stepped by a command
of the executor, with a version check like every other event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redtask.broker import engine, variables
from redtask.broker.correlation import CorrelationSet
from redtask.broker.errors import InstanceNotFound, MessageNotCorrelated
from redtask.broker.executor import Executor, Found, Ready, Write
from redtask.broker.instance_repository import InstanceRepository
from redtask.broker.store_base import Clock

if TYPE_CHECKING:
    from redtask.broker.start_events import StartEvents, StartMatch


@dataclass(frozen=True, slots=True)
class Correlation:
    """A delivered message: the instance, the execution it triggered and the instance's state
    right after (its process variables are what ``variablesInResultEnabled`` returns).
    ``started_key``: the process key when a message start event started the instance (Camunda's
    ProcessDefinition result; ``execution_id`` is then the instance's id)."""

    instance_id: str
    execution_id: str
    state: engine.InstanceState
    started_key: str | None = None

    @property
    def ended(self) -> bool:
        """Whether the triggered execution is gone (joined, or the instance ended)."""
        return all(e.id != self.execution_id for e in self.state.executions)


class Messages:
    def __init__(self, repo: InstanceRepository, executor: Executor, clock: Clock) -> None:
        self.repo = repo
        self.executor = executor
        self.clock = clock
        self.starts: StartEvents | None = None  # message start events (the store's)

    async def correlate_message(
        self,
        message_name: str,
        business_key: str | None = None,
        raw_variables: Mapping[str, Any] | None = None,
        *,
        all_matches: bool = False,
        process_instance_id: str | None = None,
        correlation_keys: Mapping[str, Any] | None = None,
        local_correlation_keys: Mapping[str, Any] | None = None,
        raw_local_variables: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
        without_tenant_id: bool = False,
    ) -> list[Correlation]:
        """Deliver a message to the executions waiting for it that match: the instance's
        business key, id and tenant (``tenant_id``, or none with ``without_tenant_id``), its
        process variables (``correlation_keys``) and the waiting execution's local ones
        (``local_correlation_keys``, see ``engine.message_waiters``). ``raw_variables`` are set
        as on completion, ``raw_local_variables`` on the scope the execution waits in.

        When no execution matches (or with ``all_matches``), the latest process definitions
        with a message start event for ``message_name`` are started too, as Camunda's
        DefaultCorrelationHandler does (business key and both variable maps go to the new
        instance; the correlation keys and instance id do not restrict them).

        Raises InvalidVariable, then InvalidCorrelation (what Camunda's engine refuses),
        before anything is read; MessageNotCorrelated when nothing matches, or several
        executions or start events do and ``all_matches`` is false.
        """
        typed = variables.normalize(raw_variables)
        local = variables.normalize(raw_local_variables)
        wanted = CorrelationSet(
            business_key,
            process_instance_id,
            variables.normalize(correlation_keys),
            variables.normalize(local_correlation_keys),
            tenant_id,
            tenant_id is not None or without_tenant_id,
        )
        if process_instance_id is not None:
            candidates = [process_instance_id]
        else:
            candidates = await self.repo.message_waiters(message_name)
        matching: list[tuple[str, str]] = []
        for state in (await self.repo.states(candidates)).values():
            found = wanted.executions(state, message_name)
            matching += [(state.instance_id, execution_id) for execution_id in found]
        if len(matching) > 1 and not all_matches:
            raise MessageNotCorrelated(message_name, len(matching), str(wanted))
        starts: list[StartMatch] = []
        if self.starts is not None and (all_matches or not matching):
            starts = await self.starts.matches("message", message_name, *wanted.tenant_filter)
            if len(starts) > 1 and not all_matches:
                raise MessageNotCorrelated(message_name, len(starts), str(wanted), definitions=True)
        if not matching and not starts:
            raise MessageNotCorrelated(message_name, 0, str(wanted))
        delivered = []
        for instance_id, execution_id in matching:
            done = await self._deliver(
                instance_id, execution_id, message_name, wanted, typed, local
            )
            if done is not None:
                delivered.append(done)
        for start in starts:
            assert self.starts is not None
            state = await self.starts.start(
                start, {**(raw_variables or {}), **(raw_local_variables or {})}, business_key
            )
            instance = state.instance_id
            delivered.append(Correlation(instance, instance, state, start.definition.key))
        if not delivered:  # another request took every match since it was read
            raise MessageNotCorrelated(message_name, 0, str(wanted))
        return delivered

    async def _deliver(
        self,
        instance_id: str,
        execution_id: str,
        message_name: str,
        wanted: CorrelationSet,
        typed: Mapping[str, engine.TypedValue],
        local: Mapping[str, engine.TypedValue],
    ) -> Correlation | None:
        """Trigger one execution; None when it no longer waits or matches (another request
        moved it since it was read)."""

        async def command(found: Found) -> Ready[Correlation | None] | Write[Correlation | None]:
            if execution_id not in wanted.executions(found.state, message_name):
                return Ready(None)
            new_state, effects, _ = engine.correlate_message(
                await found.model(),
                found.state,
                message_name,
                typed,
                self.clock(),
                found.ids,
                execution_id=execution_id,
                local_variables=local,
                max_bytes=self.repo.settings.max_variables_bytes,
            )
            write = found.commit(new_state, effects)
            return Write(write.send, lambda _: Correlation(instance_id, execution_id, new_state))

        try:
            return await self.executor.execute(instance_id, command, "message not delivered")
        except InstanceNotFound:
            return None
