"""Exponential backoff with a cap and jitter, for task retries and for reconnecting."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay ``initial_ms * multiplier**attempt``, capped at ``max_ms``, then spread by
    ``±jitter`` (a fraction) so that a fleet failing together does not retry together."""

    initial_ms: int = 1_000
    multiplier: float = 2.0
    max_ms: int = 300_000
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.initial_ms < 0 or self.max_ms < self.initial_ms:
            raise ValueError("backoff needs 0 <= initial_ms <= max_ms")
        if self.multiplier < 1:
            raise ValueError("backoff multiplier must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("backoff jitter must be between 0 and 1")

    def delay_ms(self, attempt: int, rng: random.Random | None = None) -> int:
        """The delay before retry number ``attempt`` (0 for the first retry)."""
        base = min(float(self.max_ms), self.initial_ms * self.multiplier ** max(attempt, 0))
        spread = base * self.jitter * (2 * (rng or random).random() - 1)
        return max(0, min(self.max_ms, round(base + spread)))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a failing task is retried: ``retries`` retries after the first failure, then an
    incident. Camunda leaves the count to the worker: a task starts with retries null, and each
    failure report sets the new count."""

    retries: int = 3
    backoff: Backoff = Backoff()

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("retries must be >= 0")

    def next_retries(self, current: int | None) -> int:
        """The retries to report for a failure of a task that has ``current`` retries left."""
        return self.retries if current is None else max(current - 1, 0)

    def timeout_ms(self, new_retries: int, rng: random.Random | None = None) -> int:
        """The retryTimeout for a failure that leaves ``new_retries`` (0 = incident, no wait)."""
        if new_retries <= 0:
            return 0
        return self.backoff.delay_ms(self.retries - new_retries, rng)
