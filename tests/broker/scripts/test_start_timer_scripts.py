"""arm_start_timer.lua, disarm_start_timer.lua, skip_start_timer.lua and the claim of a timer
start's due time in advance.lua, run directly against the partition of a member."""

from __future__ import annotations

from typing import Any

import orjson

from redtask.broker.errors import E_CONFLICT, OK
from redtask.broker.store import Store

MEMBER = "p:1:def|tick"


async def call(store: Store, script: str, *args: Any) -> list[Any]:
    prefix = store.keys.prefix(store.keys.partition_of(MEMBER))
    return await store.db.call(script, prefix, *args)


async def schedule(store: Store) -> tuple[dict[str, float], dict[str, str]]:
    partition = store.keys.partition_of(MEMBER)
    due = await store.redis.zrange(store.keys.start_timers(partition), 0, -1, withscores=True)
    index = await store.redis.hgetall(store.keys.start_timer_index(partition))
    return dict(due), index


def claim(due: int, index: int, following: int | None, following_index: int | None) -> bytes:
    return orjson.dumps(
        {"m": MEMBER, "due": due, "n": index, "next": following, "nn": following_index}
    )


async def test_arming_is_idempotent_and_disarming_forgets_the_member(store: Store) -> None:
    assert await call(store, "arm_start_timer", MEMBER, 1000, 1) == [OK, 1]
    assert await call(store, "arm_start_timer", MEMBER, 5000, 1) == [OK, 0]  # keeps its due
    assert await schedule(store) == ({MEMBER: 1000.0}, {MEMBER: "1"})
    assert await call(store, "disarm_start_timer", MEMBER) == [OK]
    assert await schedule(store) == ({}, {})
    assert await call(store, "arm_start_timer", MEMBER, 7000, 1) == [OK, 1]


async def test_a_due_time_is_claimed_once_and_moves_on_to_the_next(store: Store) -> None:
    await call(store, "arm_start_timer", MEMBER, 1000, 1)
    assert await call(store, "skip_start_timer", claim(1000, 1, 2000, 2)) == [OK]
    assert await schedule(store) == ({MEMBER: 2000.0}, {MEMBER: "2"})
    # a second scheduler with the same claim finds the member moved on
    assert await call(store, "skip_start_timer", claim(1000, 1, 2000, 2)) == [E_CONFLICT]
    assert await call(store, "skip_start_timer", claim(2000, 1, 3000, 2)) == [E_CONFLICT]
    assert await schedule(store) == ({MEMBER: 2000.0}, {MEMBER: "2"})


async def test_the_last_claim_ends_the_cycle_and_nothing_re_arms_it(store: Store) -> None:
    await call(store, "arm_start_timer", MEMBER, 1000, 3)
    assert await call(store, "skip_start_timer", claim(1000, 3, None, None)) == [OK]
    assert await schedule(store) == ({}, {MEMBER: "done"})
    assert await call(store, "arm_start_timer", MEMBER, 9000, 1) == [OK, 0]
    assert await call(store, "skip_start_timer", claim(1000, 3, None, None)) == [E_CONFLICT]


async def test_a_disarmed_member_cannot_be_claimed(store: Store) -> None:
    await call(store, "arm_start_timer", MEMBER, 1000, 1)
    await call(store, "disarm_start_timer", MEMBER)
    assert await call(store, "skip_start_timer", claim(1000, 1, 2000, 2)) == [E_CONFLICT]
    assert await schedule(store) == ({}, {})
