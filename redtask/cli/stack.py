"""``redtask up``: embedded Redis + scheduler + gateway as one supervised process tree.

The children run in their own sessions so that only this process reacts to Ctrl-C (or the
terminal closing: SIGHUP) and stops them in order: gateway first (it answers parked long
polls), then the scheduler, then Redis (which flushes its AOF on SIGTERM). Should this process
die without stopping them (kill -9), each child gets SIGTERM from the kernel (Linux's
parent-death signal), so no orphan keeps the port or the data directory.

Before starting anything it takes an exclusive lock on the data directory (two redis-servers
appending to one AOF would corrupt it) and checks that the ports are free; it reports ready only
when its own gateway, recognised by a per-run token, answers the readiness probe.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import IO

from redtask.broker.embedded import (
    EmbeddedCluster,
    EmbeddedRedis,
    EmbeddedRedisError,
    die_with_parent,
)
from redtask.broker.settings import Settings

LOCK_FILE = "redtask.lock"
RUN_HEADER = "X-Redtask-Run"


class StackError(Exception):
    """``redtask up`` cannot start; the message is the one line it prints."""


def lock_data_dir(data_dir: Path) -> IO[str]:
    """Hold an exclusive lock on ``data_dir`` for as long as the returned file stays open (the
    kernel drops it when this process dies). Raises StackError naming the holder's pid."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(data_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held open for the run
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise StackError(
            f"{data_dir} is in use by another redtask up (pid {holder}); stop it, or pass "
            "another --data-dir"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def check_port_free(host: str, port: int, what: str) -> None:
    """Raises StackError if ``port`` cannot be bound on ``host`` (as the server will bind it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise StackError(
                f"{what} port {port} on {host} is in use ({exc.strerror}); is another "
                "redtask up running? Choose another port or stop it"
            ) from None


class Stack:
    def __init__(
        self,
        host: str,
        port: int,
        data_dir: str,
        redis_port: int = 0,
        log_level: str = "INFO",
        fsync: str = "everysec",
        cluster: int = 0,
    ) -> None:
        self.host = host
        self.port = port
        self.data_dir = Path(data_dir).resolve()
        self.redis_port = redis_port
        self.log_level = log_level
        self.fsync = fsync
        self.cluster = cluster  # masters of an embedded Redis Cluster; 0 = one Redis
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopping = False
        self.run_token = secrets.token_hex(16)

    def _spawn(self, name: str, *args: str, env: dict[str, str]) -> None:
        cmd = [sys.executable, "-m", "redtask", "--log-level", self.log_level, *args]
        child = subprocess.Popen(cmd, env=env, start_new_session=True, preexec_fn=die_with_parent)
        self.children.append((name, child))

    def _wait_ready(self, timeout: float = 30.0) -> bool:
        url = f"http://{self._display_host()}:{self.port}/health/ready"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for _, p in self.children):
                return False
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    # another server on the port would answer too: only ours knows the token
                    if response.status == 200 and response.headers[RUN_HEADER] == self.run_token:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        return False

    def _display_host(self) -> str:
        return "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> int:
        settings = Settings()
        redis_url = settings.redis_url
        # Ctrl-C, kill and a closed terminal all stop the stack in order
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        if redis_url and self.cluster:
            print(
                "redtask up: --cluster starts an embedded cluster; unset REDTASK_REDIS_URL "
                "to use it (or drop --cluster to use that Redis)",
                file=sys.stderr,
            )
            return 1
        try:
            lock = None if redis_url else lock_data_dir(self.data_dir)
            check_port_free(self.host, self.port, "the gateway")
            if not redis_url and self.redis_port:
                for offset in range(max(1, self.cluster)):
                    check_port_free("127.0.0.1", self.redis_port + offset, "the Redis")
        except StackError as exc:
            print(f"redtask up: {exc}", file=sys.stderr)
            return 1
        try:
            return self._run(settings, redis_url)
        finally:
            if lock is not None:
                lock.close()

    def _run(self, settings: Settings, redis_url: str | None) -> int:
        embedded: EmbeddedRedis | EmbeddedCluster | None = None
        env = dict(os.environ)
        if not redis_url:
            try:
                if self.cluster:
                    embedded = EmbeddedCluster(
                        self.data_dir / "cluster",
                        self.cluster,
                        base_port=self.redis_port,
                        fsync=self.fsync,
                        tied_to_parent=True,
                    ).start()
                    # two partitions a master unless configured (fixed once data exists)
                    env.setdefault("REDTASK_PARTITIONS", str(2 * self.cluster))
                else:
                    embedded = EmbeddedRedis(
                        self.data_dir / "redis",
                        port=self.redis_port,
                        fsync=self.fsync,
                        tied_to_parent=True,
                    ).start()
            except EmbeddedRedisError as exc:
                print(f"redtask up: {exc}", file=sys.stderr)
                return 1
            redis_url = embedded.url
        env.update(REDTASK_REDIS_URL=redis_url, REDTASK_RUN_TOKEN=self.run_token)
        code = 0
        try:
            self._spawn("scheduler", "scheduler", env=env)
            self._spawn(
                "gateway", "gateway", "--host", self.host, "--port", str(self.port), env=env
            )
            if not self._wait_ready():
                print(
                    "redtask up: the gateway did not become ready; see the log above",
                    file=sys.stderr,
                )
                return 1
            where = (
                f"embedded, data in {self.data_dir}, appendfsync {self.fsync}"
                if embedded
                else "external"
            )
            if isinstance(embedded, EmbeddedCluster):
                where += f"; {self.cluster} masters, {env['REDTASK_PARTITIONS']} partitions"
            print(
                "redtask is up\n"
                f"  REST API   http://{self._display_host()}:{self.port}"
                f"{settings.gateway_root_path}\n"
                f"  dashboard  http://{self._display_host()}:{self.port}/redtask/ui\n"
                f"  Redis      {redis_url} ({where})\n"
                f"  scheduler  pid {self.children[0][1].pid}\n"
                "Press Ctrl-C to stop.",
                flush=True,
            )
            while not self.stopping:
                for name, proc in self.children:
                    if proc.poll() is not None:
                        print(
                            f"redtask up: {name} exited with {proc.returncode}; stopping",
                            file=sys.stderr,
                        )
                        code = 1
                        self.stopping = True
                time.sleep(0.2)
            return code
        finally:
            self._stop_children()
            if embedded:
                embedded.stop()
            print("redtask stopped", flush=True)

    def _stop_children(self) -> None:
        for _name, proc in reversed(self.children):
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
