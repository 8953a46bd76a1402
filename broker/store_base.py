"""What every component of the store shares: the clock (milliseconds; scripts never call TIME,
they are passed the caller's clock) and task ids."""

from __future__ import annotations

import secrets
import time
import uuid
import zlib
from collections.abc import Callable

Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class SharedClock:
    """The one clock object the components of a store call: setting ``store.clock`` (tests run
    some stores on the wall clock) changes what every component sees."""

    __slots__ = ("now",)

    def __init__(self, now: Clock) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now()


def new_task_id() -> str:
    """A random UUID (version 4), the id format of Camunda Run's generator: tasks, incidents,
    executions and timers carry one. Ids of the former 21-character format stay valid: an id
    is only ever hashed (``Keys.partition_of``), never parsed."""
    return str(uuid.uuid4())


# A partition-affine id is a UUID4 whose last 12 hex digits are 0-7: flipping the low 3 bits of
# such a digit keeps it a digit 0-7, and CRC-32 is affine over GF(2) for texts of one length
# (crc(x ^ d) = crc(x) ^ crc(d) ^ crc(0)), so 36 flippable bits set the CRC-32 to any value: a
# bounded 32-step correction instead of drawing UUIDs until one hashes into the partition
# (about P draws, unbounded).
_UUID_LENGTH = 36
_FREE_DIGITS = range(24, 36)
_FLIPS = [(position, 1 << bit) for position in _FREE_DIGITS for bit in range(3)]


def _crc_effects() -> list[int]:
    """For each CRC-32 bit i, a set of flips (bit mask over _FLIPS) that changes exactly it."""
    zero = bytes(_UUID_LENGTH)
    base = zlib.crc32(zero)
    rows: list[tuple[int, int]] = []  # (effect on the CRC, flips) kept in echelon form
    for index, (position, bit) in enumerate(_FLIPS):
        text = bytearray(zero)
        text[position] = bit
        effect, flips = zlib.crc32(text) ^ base, 1 << index
        for row_effect, row_flips in rows:
            if effect ^ row_effect < effect:
                effect, flips = effect ^ row_effect, flips ^ row_flips
        if effect:
            rows.append((effect, flips))
            rows.sort(reverse=True)
    if len(rows) != 32:  # pragma: no cover - a property of CRC-32, checked at import
        raise RuntimeError("the free digits of an id do not span CRC-32")
    for i in range(len(rows)):  # reduce to one CRC bit per row
        effect, flips = rows[i]
        for j in range(len(rows)):
            if j != i and rows[j][0] & (1 << (effect.bit_length() - 1)):
                rows[j] = (rows[j][0] ^ effect, rows[j][1] ^ flips)
    by_bit = {effect.bit_length() - 1: flips for effect, flips in rows}
    return [by_bit[i] for i in range(32)]


_CRC_FLIPS = _crc_effects()


def partition_task_id(partition: int, partitions: int) -> str:
    """A random UUID4 for which ``zlib.crc32(id) % partitions == partition`` (``Keys.
    partition_of``): the ids of an instance's tasks, executions and timers land beside it."""
    if partitions == 1:
        return new_task_id()
    text = bytearray(new_task_id().encode())
    for position in _FREE_DIGITS:
        text[position] = 0x30 | (text[position] & 7)
    slots = (0xFFFFFFFF - partition) // partitions + 1
    target = partition + partitions * secrets.randbelow(slots)
    difference = zlib.crc32(text) ^ target
    flips = 0
    for bit in range(32):
        if difference >> bit & 1:
            flips ^= _CRC_FLIPS[bit]
    for index, (position, bit) in enumerate(_FLIPS):
        if flips >> index & 1:
            text[position] ^= bit
    return text.decode()
