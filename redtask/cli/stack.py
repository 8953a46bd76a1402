"""``redtask up``: embedded Redis + scheduler + gateway as one supervised process tree.

The children run in their own sessions so that only this process reacts to Ctrl-C and stops
them in order: gateway first (it answers parked long polls), then the scheduler, then Redis
(which flushes its AOF on SIGTERM).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

from redtask.broker.embedded import EmbeddedRedis, EmbeddedRedisError
from redtask.broker.settings import Settings


class Stack:
    def __init__(
        self, host: str, port: int, data_dir: str, redis_port: int = 0, log_level: str = "INFO"
    ) -> None:
        self.host = host
        self.port = port
        self.data_dir = Path(data_dir).resolve()
        self.redis_port = redis_port
        self.log_level = log_level
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopping = False

    def _spawn(self, name: str, *args: str, env: dict[str, str]) -> None:
        cmd = [sys.executable, "-m", "redtask", "--log-level", self.log_level, *args]
        self.children.append((name, subprocess.Popen(cmd, env=env, start_new_session=True)))

    def _wait_ready(self, timeout: float = 30.0) -> bool:
        url = f"http://{self._display_host()}:{self.port}/health/ready"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for _, p in self.children):
                return False
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
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
        import os

        settings = Settings()
        embedded: EmbeddedRedis | None = None
        redis_url = settings.redis_url
        if not redis_url:
            try:
                embedded = EmbeddedRedis(self.data_dir / "redis", port=self.redis_port).start()
            except EmbeddedRedisError as exc:
                print(f"redtask up: {exc}", file=sys.stderr)
                return 1
            redis_url = embedded.url
        env = dict(os.environ, REDTASK_REDIS_URL=redis_url)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
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
            where = "embedded, data in " + str(self.data_dir) if embedded else "external"
            print(
                "redtask is up\n"
                f"  REST API   http://{self._display_host()}:{self.port}"
                f"{settings.gateway_root_path}\n"
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
