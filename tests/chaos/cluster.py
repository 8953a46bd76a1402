"""A redtask deployment of real processes that a test may kill -9 and restart: an embedded
redis-server with AOF (restarted on the same data directory and port), a gateway (restarted on
the same port), a scheduler, and workers of both transports (a killed worker is replaced by a
new process with a new worker id)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from redtask.broker.embedded import EmbeddedRedis, free_port
from tests.processes import redtask_env

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Worker:
    kind: str  # "rest" or "redis"
    slot: int
    generation: int
    process: subprocess.Popen[bytes]

    @property
    def worker_id(self) -> str:
        return f"{self.kind}-{self.slot}-g{self.generation}"


@dataclass
class Cluster:
    """Everything lives under ``root``: redis/ (its AOF), logs/ (one per process) and
    executions/ (one execution log per worker process)."""

    root: Path
    namespace: str
    topic: str
    lock_ms: int
    handler_ms: int
    partitions: int = 2
    redis: EmbeddedRedis = field(init=False)
    gateway_port: int = field(init=False)
    gateway: subprocess.Popen[bytes] | None = None
    scheduler: subprocess.Popen[bytes] | None = None
    workers: list[Worker] = field(default_factory=list)
    killed_pids: set[int] = field(default_factory=set)
    kills: dict[str, int] = field(default_factory=dict)
    _generation: int = 0

    def __post_init__(self) -> None:
        for folder in ("logs", "executions"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        self.redis = EmbeddedRedis(self.root / "redis")
        self.gateway_port = free_port()

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}/engine-rest"

    def env(self) -> dict[str, str]:
        return redtask_env(self.redis.url, self.namespace, self.partitions)

    def _spawn(self, name: str, args: list[str], **extra: str) -> subprocess.Popen[bytes]:
        log = (self.root / "logs" / f"{name}.log").open("ab")
        with log:
            return subprocess.Popen(
                [sys.executable, "-m", "redtask", "--log-level", "WARNING", *args],
                env={**self.env(), **extra},
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    # -- starting -------------------------------------------------------------------------

    def start_redis(self) -> None:
        self.redis.start(timeout=30)

    def start_gateway(self, wait: bool = False) -> None:
        self.gateway = self._spawn("gateway", ["gateway", "--port", str(self.gateway_port)])
        if wait:
            deadline = time.monotonic() + 30
            while True:
                assert self.gateway.poll() is None, "the gateway exited during startup"
                try:
                    if httpx.get(f"{self.api[: -len('/engine-rest')]}/health/ready").is_success:
                        return
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the gateway did not become ready"
                time.sleep(0.05)

    def start_scheduler(self) -> None:
        self.scheduler = self._spawn("scheduler", ["scheduler", "--id", "chaos"])

    def start_worker(self, kind: str, slot: int) -> Worker:
        self._generation += 1
        worker = Worker(kind, slot, self._generation, None)  # type: ignore[arg-type]
        args = ["worker", "tests.chaos.app:worker", "--transport", kind, "--url", self.api]
        args += ["--worker-id", worker.worker_id, "--grace", "5"]
        worker.process = self._spawn(
            worker.worker_id,
            args,
            CHAOS_TOPIC=self.topic,
            CHAOS_LOG=str(self.root / "executions" / f"{worker.worker_id}.jsonl"),
            CHAOS_LOCK_MS=str(self.lock_ms),
            CHAOS_HANDLER_MS=str(self.handler_ms),
        )
        self.workers.append(worker)
        return worker

    # -- killing --------------------------------------------------------------------------

    def _kill(self, target: str, process: subprocess.Popen[bytes]) -> None:
        assert process.poll() is None, f"{target} had exited by itself ({process.returncode})"
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        self.killed_pids.add(process.pid)
        self.kills[target] = self.kills.get(target, 0) + 1

    def kill_and_restart(self, target: str, pause_s: float, choice: int) -> str:
        """kill -9 ``target`` (a worker: the ``choice``-th live one of that transport), wait
        ``pause_s`` and start its replacement; returns what was killed."""
        if target == "redis":
            assert self.redis.process is not None
            self._kill(target, self.redis.process)
            time.sleep(pause_s)
            self.start_redis()
            return target
        if target == "gateway":
            assert self.gateway is not None
            self._kill(target, self.gateway)
            time.sleep(pause_s)
            self.start_gateway()
            return target
        if target == "scheduler":
            assert self.scheduler is not None
            self._kill(target, self.scheduler)
            time.sleep(pause_s)
            self.start_scheduler()
            return target
        kind = target.removeprefix("worker-")
        live = [w for w in self.workers if w.kind == kind and w.process.poll() is None]
        victim = live[choice % len(live)]
        self._kill(target, victim.process)
        time.sleep(pause_s)
        self.start_worker(kind, victim.slot)
        return victim.worker_id

    def exited_by_themselves(self) -> list[str]:
        """Processes that exited although nobody killed them."""
        processes = [("gateway", self.gateway), ("scheduler", self.scheduler)]
        processes += [(w.worker_id, w.process) for w in self.workers]
        processes += [("redis", self.redis.process)]
        return [
            f"{name} (exit {p.returncode})"
            for name, p in processes
            if p is not None and p.poll() is not None and p.pid not in self.killed_pids
        ]

    def stop(self) -> None:
        """SIGTERM every live process, then kill what does not exit; Redis last."""
        live = [w.process for w in self.workers] + [self.gateway, self.scheduler]
        for process in live:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in live:
            if process is None:
                continue
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.redis.stop()
