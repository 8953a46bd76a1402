"""Message correlation for process instances (``POST /message``, reference §4.8): the instances
waiting for a message name are found through the per-partition ``msg:<name>`` sets that
``advance.lua`` keeps (or, given a process instance id, that instance alone), the waiting
executions are matched against a :class:`~broker.correlation.CorrelationSet`, then each chosen
execution is stepped with a version check like every other event.

``StoreMessages`` is mixed into ``broker.store.Store`` (it is part of the store layer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from redtask.broker import engine, variables
from redtask.broker.correlation import CorrelationSet
from redtask.broker.errors import BrokerError, raise_for
from redtask.broker.instances import (
    E_CONFLICT,
    MAX_ATTEMPTS,
    InstanceNotFound,
    MessageNotCorrelated,
    StoreInstances,
)


@dataclass(frozen=True, slots=True)
class Correlation:
    """A delivered message: the instance, the execution it triggered and the instance's state
    right after (its process variables are what ``variablesInResultEnabled`` returns)."""

    instance_id: str
    execution_id: str
    state: engine.InstanceState

    @property
    def ended(self) -> bool:
        """Whether the triggered execution is gone (joined, or the instance ended)."""
        return all(e.id != self.execution_id for e in self.state.executions)


class StoreMessages(StoreInstances):
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

        Raises InvalidVariable, then InvalidCorrelation (what Camunda's engine refuses),
        before anything is read; MessageNotCorrelated when nothing matches, or several
        executions do and ``all_matches`` is false.
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
        matching: list[tuple[str, str]] = []
        for state in await self._waiting_instances(message_name, process_instance_id):
            found = wanted.executions(state, message_name)
            matching += [(state.instance_id, execution_id) for execution_id in found]
        if not matching or (len(matching) > 1 and not all_matches):
            raise MessageNotCorrelated(message_name, len(matching), str(wanted))
        delivered = []
        for instance_id, execution_id in matching:
            done = await self._deliver(
                instance_id, execution_id, message_name, wanted, typed, local
            )
            if done is not None:
                delivered.append(done)
        if not delivered:  # another request took every match since it was read
            raise MessageNotCorrelated(message_name, 0, str(wanted))
        return delivered

    async def _waiting_instances(
        self, message_name: str, instance_id: str | None
    ) -> list[engine.InstanceState]:
        """The states of the instances that wait for the message (of ``instance_id`` only, if
        given), in partition order, then by id."""
        if instance_id is not None:
            candidates = [instance_id]
        else:
            async with self.redis.pipeline(transaction=False) as pipe:
                for partition in range(self.keys.partitions):
                    pipe.smembers(self.keys.message_waiters(partition, message_name))
                members = await pipe.execute()
            candidates = [i for part in members for i in sorted(map(str, part))]
        async with self.redis.pipeline(transaction=False) as pipe:
            for candidate in candidates:
                pipe.hget(self.keys.instance(candidate), "st")
            raws = await pipe.execute()
        return [engine.InstanceState.from_json(orjson.loads(raw)) for raw in raws if raw]

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
        for _ in range(MAX_ATTEMPTS):
            try:
                state, version = await self.instance_state(instance_id)
            except InstanceNotFound:
                return None
            if execution_id not in wanted.executions(state, message_name):
                return None
            model = await self._model(state.definition_id)
            new_state, effects, _ = engine.correlate_message(
                model,
                state,
                message_name,
                typed,
                self.clock(),
                self._ids(instance_id),
                execution_id=execution_id,
                local_variables=local,
            )
            reply = await self._commit(new_state, effects, version, {}, before=state)
            if int(reply[0]) != E_CONFLICT:
                raise_for(reply)
                return Correlation(instance_id, execution_id, new_state)
        raise BrokerError(f"process instance {instance_id} kept changing; message not delivered")
