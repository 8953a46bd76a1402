"""Server processes of the benchmarks: ``redtask gateway`` subprocesses and the HTTP floor (a
no-op FastAPI endpoint served as the gateway is served), each ready when GET /health/ready
answers, with its CPU time readable from /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Response

from bench.common import ROOT, log, process_cpu
from redtask.broker.embedded import free_port

SERVER_LOG_LEVEL = "warning"


def redtask_env(redis_url: str, namespace: str, **extra: str) -> dict[str, str]:
    """This process's environment without REDTASK_ settings, then one partition of
    ``namespace`` on ``redis_url`` and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDTASK_")}
    env.update(REDTASK_REDIS_URL=redis_url, REDTASK_NAMESPACE=namespace, REDTASK_PARTITIONS="1")
    env.update(extra)
    return env


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    base: str
    profile_path: Path | None

    def cpu_seconds(self) -> float:
        """utime + stime of the server process (it runs no children)."""
        return process_cpu(self.proc.pid)


@contextmanager
def server_process(
    name: str,
    args: list[str],
    env: dict[str, str],
    profile_dir: Path | None = None,
    cwd: str | Path = ROOT,
) -> Iterator[Server]:
    """Start ``python [-m cProfile -o F] ARGS`` in ``cwd`` and wait for GET /health/ready; stop
    with SIGINT (the servers treat it as a graceful shutdown and exit 0). ``python -m redtask``
    runs the package found in ``cwd`` first: a baseline's directory (bench/baseline.py) runs
    the baseline."""
    port = free_port()
    profile_path = None
    cmd = [sys.executable]
    if profile_dir is not None:
        profile_path = profile_dir / f"{name}.prof"
        cmd += ["-m", "cProfile", "-o", str(profile_path)]
    cmd += [a.replace("{port}", str(port)) for a in args]
    proc = subprocess.Popen(cmd, env=env, cwd=cwd)
    server = Server(name, proc, f"http://127.0.0.1:{port}", profile_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited during startup ({proc.returncode})")
            try:
                if httpx.get(f"{server.base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not become ready in 30s")
            time.sleep(0.05)
        log(f"{name} ready at {server.base} (pid {proc.pid})")
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        if code != 0:
            log(f"warning: {name} exited with {code}")


def gateway_args() -> list[str]:
    return ["-m", "redtask", "--log-level", "WARNING", "gateway", "--port", "{port}"]


def bare_args() -> list[str]:
    """The floor's server: bench/gateway.py serves it with ``--serve-bare PORT``."""
    return [str(ROOT / "bench" / "gateway.py"), "--serve-bare", "{port}"]


def serve_bare(port: int) -> None:
    """The floor: a no-op POST endpoint, served exactly as gateway/server.py serves the app
    (with the same FastAPI settings: built-in telemetry off, as gateway/app.py sets it)."""
    app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})

    @app.post("/noop", status_code=204)
    async def noop() -> Response:
        return Response(status_code=204)

    @app.post("/noop-json", status_code=204)
    async def noop_json(body: dict[str, Any]) -> Response:
        """The same no-op, parsing its JSON body as FastAPI parses a request body."""
        return Response(status_code=204)

    @app.get("/health/ready")
    async def ready() -> dict[str, str]:
        return {"status": "UP"}

    class BareServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            self._captured_signals.clear()  # exit 0 (cProfile then writes its file)

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level=SERVER_LOG_LEVEL,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    BareServer(config).run()  # as gateway/server.py: uvicorn picks the loop and http protocol
