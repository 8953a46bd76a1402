"""Real local Redis topologies for tests and benchmarks, from the bundled ``redis-server`` and
``redis-cli``: a Redis Cluster (masters, optionally one replica each) and a Sentinel group (one
master, one replica, three sentinels). Every process is started here and stopped by ``stop()``;
a test may ``kill()`` a node (SIGKILL) to force a failover.

Unlike the rest of the test kit this runs real servers, not fakeredis (which it never imports)."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from redtask.broker.embedded import (
    cluster_free_port,
    die_with_parent,
    find_server_binary,
    free_port,
)


def redis_cli() -> str:
    return str(Path(find_server_binary()).with_name("redis-cli"))


@dataclass
class Node:
    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=5)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final write."""
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_node(node: Node, *extra: str) -> None:
    node.directory.mkdir(parents=True, exist_ok=True)
    args = [
        find_server_binary(),
        "--port",
        str(node.port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(node.directory),
        "--save",
        "",
        "--appendonly",
        "no",
        "--maxmemory-policy",
        "noeviction",
        "--daemonize",
        "no",
        "--logfile",
        str(node.directory / "redis.log"),
        *extra,
    ]
    node.process = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=die_with_parent,  # a killed test run takes its servers with it
    )


def _wait_ready(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis on port {port} did not start") from None
            time.sleep(0.02)


def cluster_port() -> int:
    """A free port P whose cluster bus port P + 10000 is free too."""
    return cluster_free_port()


@dataclass
class LocalCluster:
    """``masters`` masters, each with ``replicas`` replicas, slots split evenly."""

    root: Path
    masters: int = 3
    replicas: int = 0
    node_timeout_ms: int = 2000
    nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        seeds = ",".join(n.address for n in self.nodes[: self.masters])
        return f"redis+cluster://{seeds}"

    def start(self) -> LocalCluster:
        count = self.masters * (1 + self.replicas)
        self.nodes = [Node(cluster_port(), self.root / f"n{i}") for i in range(count)]
        try:
            for node in self.nodes:
                start_node(
                    node,
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    str(node.directory / "nodes.conf"),
                    "--cluster-node-timeout",
                    str(self.node_timeout_ms),
                    "--cluster-require-full-coverage",
                    "no",
                )
            for node in self.nodes:
                _wait_ready(node.port)
            if self.masters < 3:  # redis-cli --cluster create wants 3 masters or more
                self._assign_slots_by_hand()
            else:
                self._create_with_redis_cli()
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _assign_slots_by_hand(self) -> None:
        """CLUSTER ADDSLOTS per master (redis-cli's even split) and CLUSTER MEET."""
        if self.replicas:
            raise ValueError("replicas need 3 masters or more")
        per = 16384 / self.masters
        first, cursor = 0, 0.0
        for i, node in enumerate(self.nodes):
            last = 16383 if i == self.masters - 1 else round(cursor + per - 1)
            with node.client() as c:
                c.execute_command("CLUSTER", "ADDSLOTS", *range(first, last + 1))
                if i:
                    c.execute_command("CLUSTER", "MEET", "127.0.0.1", self.nodes[0].port)
            first, cursor = last + 1, cursor + per

    def _create_with_redis_cli(self) -> None:
        subprocess.run(
            [
                redis_cli(),
                "--cluster",
                "create",
                *(n.address for n in self.nodes),
                "--cluster-replicas",
                str(self.replicas),
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Until every live node reports cluster_state:ok with all slots assigned and every
        replica is in sync."""
        deadline = time.monotonic() + timeout
        while True:
            if self._healthy():
                return
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not become healthy")
            time.sleep(0.1)

    def _healthy(self) -> bool:
        for node in self.nodes:
            if not node.alive():
                continue
            with node.client() as c:
                try:
                    info = c.execute_command("CLUSTER", "INFO")
                    if "cluster_state:ok" not in info or "cluster_slots_ok:16384" not in info:
                        return False
                    repl = c.info("replication")
                except redis.RedisError:
                    return False
            if repl["role"] == "slave" and repl.get("master_link_status") != "up":
                return False
        return True

    def master_nodes(self) -> list[Node]:
        """The live nodes that currently serve slots as masters."""
        found = []
        for node in self.nodes:
            if node.alive():
                with node.client() as c:
                    if c.info("replication")["role"] == "master":
                        found.append(node)
        return found

    def node_of_slot(self, slot: int) -> Node:
        for node in self.nodes:
            if not node.alive():
                continue
            with node.client() as c:
                for start, end, master, *_ in c.execute_command("CLUSTER", "SLOTS"):
                    if start <= slot <= end:
                        port = int(master[1])
                        return next(n for n in self.nodes if n.port == port)
        raise LookupError(slot)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


@dataclass
class LocalSentinel:
    """One master, ``replicas`` replicas and three sentinels watching them as ``service``."""

    root: Path
    service: str = "redtask"
    replicas: int = 1
    down_after_ms: int = 1000
    failover_timeout_ms: int = 5000
    master: Node | None = None
    replica_nodes: list[Node] = field(default_factory=list)
    sentinels: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        hosts = ",".join(s.address for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.service}"

    def start(self) -> LocalSentinel:
        try:
            self.master = Node(free_port(), self.root / "master")
            start_node(self.master)
            _wait_ready(self.master.port)
            for i in range(self.replicas):
                node = Node(free_port(), self.root / f"replica{i}")
                start_node(node, "--replicaof", "127.0.0.1", str(self.master.port))
                self.replica_nodes.append(node)
            for node in self.replica_nodes:
                _wait_ready(node.port)
            for i in range(3):
                node = Node(free_port(), self.root / f"sentinel{i}")
                node.directory.mkdir(parents=True, exist_ok=True)
                conf = node.directory / "sentinel.conf"
                conf.write_text(
                    f"port {node.port}\nbind 127.0.0.1\ndir {node.directory}\n"
                    f"logfile {node.directory / 'sentinel.log'}\n"
                    f"sentinel monitor {self.service} 127.0.0.1 {self.master.port} 2\n"
                    f"sentinel down-after-milliseconds {self.service} {self.down_after_ms}\n"
                    f"sentinel failover-timeout {self.service} {self.failover_timeout_ms}\n"
                    f"sentinel parallel-syncs {self.service} 1\n"
                )
                node.process = subprocess.Popen(
                    [find_server_binary(), str(conf), "--sentinel"],
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    preexec_fn=die_with_parent,
                )
                self.sentinels.append(node)
            for node in self.sentinels:
                _wait_ready(node.port)
            self.wait_replicas_synced()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_replicas_synced(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            ok = True
            for node in self.replica_nodes:
                with node.client() as c:
                    try:
                        ok = ok and c.info("replication").get("master_link_status") == "up"
                    except redis.RedisError:
                        ok = False
            if ok:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("the replicas did not sync")
            time.sleep(0.05)

    def current_master_port(self) -> int:
        with self.sentinels[0].client() as c:
            _host, port = c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)
        return int(port)

    def stop(self) -> None:
        for node in [*self.sentinels, *self.replica_nodes]:
            node.stop()
        if self.master is not None:
            self.master.stop()


def cluster_masters(url: str) -> dict[tuple[str, int], list[tuple[int, int]]]:
    """The masters of the cluster ``url`` names and the slot ranges each serves (from the
    first seed node that answers CLUSTER SLOTS)."""
    from redtask.broker.redis_url import parse_redis_url

    target = parse_redis_url(url)
    for host, port in target.hosts:
        try:
            with redis.Redis(
                host=host,
                port=port,
                password=target.password,
                username=target.username,
                decode_responses=True,
                socket_timeout=5,
            ) as c:
                found: dict[tuple[str, int], list[tuple[int, int]]] = {}
                for start, end, master, *_ in c.execute_command("CLUSTER", "SLOTS"):
                    found.setdefault((str(master[0]), int(master[1])), []).append(
                        (int(start), int(end))
                    )
                return found
        except redis.ConnectionError:
            continue
    raise RuntimeError(f"no seed node of {url} answered")
