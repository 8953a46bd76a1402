"""The scripts' key names (``scripts/_keys.lua``) agree with ``broker.keys``, run on the server."""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources

from redtask.broker.connection import client_for
from redtask.broker.keys import Keys

KEYS = Keys("ns", partitions=4)
ID = "0b4c5d1e-instance-or-task"
P = KEYS.partition_of(ID)

# Lua call (after the prefix argument) -> the Keys method giving the same name
MIRRORS: dict[str, tuple[str, Callable[[], str]]] = {
    "k_task": (f"'{ID}'", lambda: KEYS.task(ID)),
    "k_avail": ("'orders', '-7'", lambda: KEYS.avail(P, "orders", -7)),
    "k_levels": ("'orders'", lambda: KEYS.avail_levels(P, "orders")),
    "k_locked": ("'orders'", lambda: KEYS.locked(P, "orders")),
    "k_retry": ("'orders'", lambda: KEYS.retry(P, "orders")),
    "k_xtasks": ("'orders'", lambda: KEYS.incident_tasks(P, "orders")),
    "k_topics": ("", lambda: KEYS.topics(P)),
    "k_sweep": ("", lambda: KEYS.sweep(P)),
    "k_incident": ("'i-1'", lambda: KEYS.incident(P, "i-1")),
    "k_incidents": ("", lambda: KEYS.incidents(P)),
    "k_done": ("", lambda: KEYS.done(P)),
    "k_completions": ("29000000", lambda: KEYS.completions(P, 29_000_000)),
    "k_workers": ("", lambda: KEYS.workers(P)),
    "k_instance": (f"'{ID}'", lambda: KEYS.instance(ID)),
    "k_instances": ("", lambda: KEYS.instances(P)),
    "k_history": ("", lambda: KEYS.history(P)),
    "k_timers": ("", lambda: KEYS.timers(P)),
    "k_timer_jobs": ("", lambda: KEYS.timer_jobs(P)),
    "k_timer_incidents": ("", lambda: KEYS.timer_incidents(P)),
    "k_activities": (f"'{ID}'", lambda: KEYS.activities(ID)),
    "k_task_log": (f"'{ID}'", lambda: KEYS.task_log(ID)),
    "k_incident_history": (f"'{ID}'", lambda: KEYS.incident_history(ID)),
    "k_start_timers": ("", lambda: KEYS.start_timers(P)),
    "k_start_timer_index": ("", lambda: KEYS.start_timer_index(P)),
    "k_message": ("'PaymentReceived'", lambda: KEYS.message_waiters(P, "PaymentReceived")),
    "k_signal_throws": ("", lambda: KEYS.signal_throws(P)),
}


async def test_every_lua_key_name_is_the_one_keys_py_builds(redis_url: str) -> None:
    source = resources.files("redtask.broker.scripts").joinpath("_keys.lua").read_text()
    assert set(re.findall(r"^local function (k_\w+)\(", source, re.M)) == set(MIRRORS)
    calls = ", ".join(
        f"{name}(KEYS[1]{', ' if args else ''}{args})" for name, (args, _) in MIRRORS.items()
    )
    client = client_for(redis_url)
    try:
        names = await client.eval(f"{source}\nreturn {{{calls}}}", 1, KEYS.prefix(P))
    finally:
        await client.aclose()
    assert dict(zip(MIRRORS, names, strict=True)) == {n: m() for n, (_, m) in MIRRORS.items()}
