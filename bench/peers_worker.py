"""One redtask SDK worker process for bench/peers.py: a ``Worker`` on a ``RedisTransport`` with a
no-op ``async`` handler. Connects, prints "ready", waits for the go (BLPOP on the go key), then
runs until SIGTERM (a graceful stop). With ``--profile PATH`` it writes a cProfile of the run.

    python bench/peers_worker.py URL NAMESPACE TOPIC CONCURRENCY GO_KEY [--profile PATH]
                                 [--no-fetch-ahead]

``--no-fetch-ahead`` turns the transport's complete-and-fetch-next off.
"""

from __future__ import annotations

import asyncio
import cProfile
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from redtask.broker.connection import client_for  # noqa: E402
from redtask.broker.settings import Settings  # noqa: E402
from redtask.worker import Worker  # noqa: E402
from redtask.worker.transport.redis import RedisTransport  # noqa: E402


async def main(
    url: str, ns: str, topic: str, concurrency: int, go_key: str, fetch_ahead: bool
) -> None:
    settings = Settings(redis_url=url, namespace=ns, partitions=1)
    transport = RedisTransport(settings, fetch_ahead=fetch_ahead)
    await transport.store()
    worker = Worker(transport, concurrency=concurrency, poll_timeout=1_000, worker_id=f"w{ns}")

    @worker.task(topic, lock_duration=60_000)
    async def noop() -> None:
        return None

    blocker = client_for(url)
    print("ready", flush=True)
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
    fetch_ahead = "--no-fetch-ahead" not in args
    args = [a for a in args if a != "--no-fetch-ahead"]
    run = main(args[0], args[1], args[2], int(args[3]), args[4], fetch_ahead)
    if profile is None:
        asyncio.run(run)
    else:
        prof = cProfile.Profile()
        prof.enable()
        asyncio.run(run)
        prof.disable()
        prof.dump_stats(profile)
