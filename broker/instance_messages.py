"""Message correlation for process instances (``POST /message``): the instances waiting for a
message name are found through the per-partition ``msg:<name>`` sets that ``advance.lua``
keeps, then each chosen instance is stepped with a version check like every other event.

``StoreMessages`` is mixed into ``broker.store.Store`` (it is part of the store layer).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from broker import engine, variables
from broker.errors import BrokerError, raise_for
from broker.instances import (
    E_CONFLICT,
    MAX_ATTEMPTS,
    InstanceNotFound,
    MessageNotCorrelated,
    StoreInstances,
)


class StoreMessages(StoreInstances):
    async def correlate_message(
        self,
        message_name: str,
        business_key: str | None = None,
        raw_variables: Mapping[str, Any] | None = None,
        *,
        all_matches: bool = False,
    ) -> list[tuple[str, str]]:
        """Deliver a message to the instances waiting for it (optionally only the one with
        ``business_key``); returns (instance id, triggered execution id) pairs.

        Raises MessageNotCorrelated when nothing matches, or when several instances match and
        ``all_matches`` is false.
        """
        typed = variables.normalize(raw_variables)
        candidates: list[str] = []
        for partition in range(self.keys.partitions):
            members = await self.redis.smembers(self.keys.message_waiters(partition, message_name))
            candidates += sorted(map(str, members))
        matching = []
        for instance_id in candidates:
            try:
                state, _ = await self.instance_state(instance_id)
            except InstanceNotFound:
                continue
            if business_key is None or state.business_key == business_key:
                matching.append(instance_id)
        if not matching or (len(matching) > 1 and not all_matches):
            raise MessageNotCorrelated(message_name, len(matching))
        return [(i, await self._deliver(i, message_name, typed)) for i in matching]

    async def _deliver(
        self, instance_id: str, message_name: str, typed: Mapping[str, engine.TypedValue]
    ) -> str:
        for _ in range(MAX_ATTEMPTS):
            state, version = await self.instance_state(instance_id)
            model = await self._model(state.definition_id)
            new_state, effects, execution_id = engine.correlate_message(
                model, state, message_name, typed, self.clock(), self._ids(instance_id)
            )
            reply = await self._commit(new_state, effects, version, {}, before=state)
            if int(reply[0]) != E_CONFLICT:
                raise_for(reply)
                return execution_id
        raise BrokerError(f"process instance {instance_id} kept changing; message not delivered")
