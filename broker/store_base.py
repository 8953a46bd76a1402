"""What every component of the store shares: the clock (milliseconds; scripts never call TIME,
they are passed the caller's clock) and task ids."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

Clock = Callable[[], int]
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_LENGTH = 21
_ID_SPACE = 62**_ID_LENGTH


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
    """A random id of 21 base62 characters (125 bits; a UUID v4 has 122).

    The id is stored twice per waiting task, in its key and in the fetchable index; at 21
    characters the index member fits the allocator's smallest chunk (16 bytes a task less
    than 26 characters, 36 less than a UUID's).
    """
    number = int.from_bytes(os.urandom(16), "big") % _ID_SPACE
    chars = []
    for _ in range(_ID_LENGTH):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(chars)
