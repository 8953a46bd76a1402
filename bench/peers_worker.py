"""One redtask SDK worker process for bench/peers.py: a ``Worker`` on a ``RedisTransport`` with a
no-op ``async`` handler. Connects, prints "ready", waits for the go (BLPOP on the go key), then
runs until SIGTERM (a graceful stop). With ``--profile PATH`` it writes a cProfile of the run.

    python bench/peers_worker.py URL NAMESPACE TOPIC CONCURRENCY GO_KEY [--profile PATH]
                                 [--no-fetch-ahead] [--lanes N] [--fixed-lanes] [--rest API]

``--no-fetch-ahead`` turns the transport's complete-and-fetch-next off; ``--lanes N`` sets its
poll lanes (default: the transport's); ``--fixed-lanes`` keeps them all in use
(``adaptive_lanes=False``); ``--rest API`` (e.g.
``http://127.0.0.1:8080/engine-rest``) runs the worker on a ``RestTransport`` against a gateway
instead (URL then only carries the go signal).
"""

from __future__ import annotations

import asyncio
import cProfile
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.append(str(ROOT))  # after PYTHONPATH: a baseline (bench/baseline.py) comes first

import redtask  # noqa: E402
from redtask.broker.connection import client_for  # noqa: E402
from redtask.broker.settings import Settings  # noqa: E402
from redtask.worker import Worker  # noqa: E402
from redtask.worker.transport.redis import RedisTransport  # noqa: E402
from redtask.worker.transport.rest import RestTransport  # noqa: E402


async def main(
    url: str,
    ns: str,
    topic: str,
    concurrency: int,
    go_key: str,
    fetch_ahead: bool,
    rest: str,
    lanes: int | None,
    fixed_lanes: bool,
) -> None:
    transport: RedisTransport | RestTransport
    if rest:
        transport = RestTransport(rest)
    else:
        transport = RedisTransport(
            Settings(redis_url=url, namespace=ns, partitions=1),
            fetch_ahead=fetch_ahead,
            **({"adaptive_lanes": False} if fixed_lanes else {}),
            **({} if lanes is None else {"lanes": lanes}),
        )
        await transport.store()
    worker = Worker(transport, concurrency=concurrency, poll_timeout=1_000, worker_id=f"w{ns}")

    @worker.task(topic, lock_duration=60_000)
    async def noop() -> None:
        return None

    blocker = client_for(url)
    print("ready", redtask.__file__, flush=True)  # which package runs
    await blocker.blpop([go_key], 0)
    await blocker.aclose()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, worker.stop)
    await worker.run()


if __name__ == "__main__":
    args = sys.argv[1:]
    profile = None
    if "--profile" in args:
        i = args.index("--profile")
        profile = args[i + 1]
        del args[i : i + 2]
    rest = ""
    if "--rest" in args:
        i = args.index("--rest")
        rest = args[i + 1]
        del args[i : i + 2]
    lanes = None  # the transport's default (a baseline may not know the option)
    if "--lanes" in args:
        i = args.index("--lanes")
        lanes = int(args[i + 1])
        del args[i : i + 2]
    fetch_ahead = "--no-fetch-ahead" not in args
    fixed_lanes = "--fixed-lanes" in args
    args = [a for a in args if a not in ("--no-fetch-ahead", "--fixed-lanes")]
    run = main(
        args[0], args[1], args[2], int(args[3]), args[4], fetch_ahead, rest, lanes, fixed_lanes
    )
    if profile is None:
        asyncio.run(run)
    else:
        prof = cProfile.Profile()
        prof.enable()
        asyncio.run(run)
        prof.disable()
        prof.dump_stats(profile)
