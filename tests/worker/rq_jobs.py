"""Job functions run by the real `rq worker` processes of test_rq_bridge.py. Each run is counted
in RQ's Redis: the list ``runs:<queue>`` holds the time each run started."""

from __future__ import annotations

import time
from typing import Any

from rq import get_current_job


def _count_run() -> None:
    job = get_current_job()
    assert job is not None
    job.connection.rpush(f"runs:{job.origin}", time.time())


def double(amount: int, **_: Any) -> dict[str, Any]:
    _count_run()
    return {"doubled": amount * 2, "note": "by rq"}


def answer(**_: Any) -> int:
    _count_run()
    return 42


def card_expired(**_: Any) -> None:
    _count_run()
    raise ValueError("card expired")


def slow(seconds: float, **_: Any) -> dict[str, Any]:
    _count_run()
    time.sleep(seconds)
    return {"slept": seconds}
