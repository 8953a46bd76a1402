"""`redtask up` owns its data directory: a second one on the same directory or port refuses to
start with one clear line, a closed terminal (SIGHUP) stops the stack in order, a killed `up`
takes its children with it, `--fsync` sets the embedded Redis's appendfsync; and the gateway or
scheduler given an unreachable Redis exits with one line naming it. Real processes throughout."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis

from redtask.broker.embedded import EmbeddedRedis, free_port
from tests.test_cli import REDTASK, _env

pytestmark = pytest.mark.slow


class Up:
    def __init__(self, proc: subprocess.Popen[str], banner: str) -> None:
        self.proc = proc
        self.banner = banner
        found = re.search(r"Redis\s+redis(?:\+cluster)?://127.0.0.1:(\d+)", banner)
        assert found, banner
        self.redis_port = int(found.group(1))
        self.children = [int(pid) for pid in _children(proc.pid)]


def _children(pid: int) -> list[str]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return out.stdout.split()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@contextmanager
def running_up(data_dir: Path, port: int, *extra: str) -> Iterator[Up]:
    """``redtask up`` until its banner; its stderr (and its children's) goes to a file beside
    the data directory, shown when the banner never comes."""
    errors = data_dir.with_name(data_dir.name + ".stderr")
    with errors.open("a") as stderr:
        proc = subprocess.Popen(
            [*REDTASK, "up", "--port", str(port), "--data-dir", str(data_dir), *extra],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=_env(),
        )
    assert proc.stdout is not None
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        if not any(line.startswith("Press Ctrl-C") for line in lines):
            proc.wait(30)
            lines.append(errors.read_text()[-4000:])
        yield Up(proc, "".join(lines))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def second_up(data_dir: Path, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REDTASK, "up", "--port", str(port), "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=30,
    )


def redis_servers_on(data_dir: Path) -> list[int]:
    """The redis-server processes working in ``data_dir`` (redis-server chdirs to its --dir)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if (proc / "comm").read_text().strip() == "redis-server" and (
                proc / "cwd"
            ).resolve() == data_dir.resolve():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_a_second_up_on_the_same_data_dir_refuses_naming_the_first(tmp_path: Path) -> None:
    with running_up(tmp_path, free_port()) as first:
        result = second_up(tmp_path, free_port())

        assert result.returncode == 1
        assert result.stderr == (
            f"redtask up: {tmp_path} is in use by another redtask up (pid {first.proc.pid}); "
            "stop it, or pass another --data-dir\n"
        )
        assert "redtask is up" not in result.stdout
        assert len(redis_servers_on(tmp_path / "redis")) == 1
        assert first.proc.poll() is None


def test_a_second_up_on_a_busy_port_refuses_before_starting_anything(tmp_path: Path) -> None:
    port = free_port()
    with running_up(tmp_path / "first", port) as first:
        result = second_up(tmp_path / "second", port)

        assert result.returncode == 1
        assert result.stderr == (
            f"redtask up: the gateway port {port} on 127.0.0.1 is in use (Address already in "
            "use); is another redtask up running? Choose another port or stop it\n"
        )
        assert "redtask is up" not in result.stdout
        assert redis_servers_on(tmp_path / "second" / "redis") == []
        assert first.proc.poll() is None


def test_up_with_an_embedded_cluster_keeps_its_tasks_across_a_restart(tmp_path: Path) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}/engine-rest"
    with running_up(tmp_path, port, "--cluster", "3") as up:
        assert "3 masters, 6 partitions" in up.banner, up.banner
        ports = [int(p) for p in (tmp_path / "cluster" / "ports").read_text().split()]
        assert len(ports) == 3 and up.redis_port == ports[0]
        for node_port in ports:
            with redis.Redis(port=node_port, decode_responses=True) as node:
                info = node.execute_command("CLUSTER", "INFO")
                assert "cluster_state:ok" in info and "cluster_known_nodes:3" in info
                assert node.config_get("appendonly") == {"appendonly": "yes"}
        published = httpx.post(f"http://127.0.0.1:{port}/redtask/topics/kept/tasks", json=[{}] * 12)
        assert published.status_code == 201
        ids = published.json()["ids"]
    with running_up(tmp_path, port, "--cluster", "3") as again:
        assert [int(p) for p in (tmp_path / "cluster" / "ports").read_text().split()] == ports
        found = httpx.get(f"{api}/external-task", params={"topicName": "kept"}).json()
        assert sorted(t["id"] for t in found) == sorted(ids)
        assert again.proc.poll() is None


def test_up_refuses_another_master_count_on_a_cluster_data_dir(tmp_path: Path) -> None:
    with running_up(tmp_path, free_port(), "--cluster", "1"):
        pass
    result = subprocess.run(
        [*REDTASK, "up", "--port", str(free_port()), "--data-dir", str(tmp_path), "--cluster", "2"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        f"redtask up: {tmp_path.resolve() / 'cluster'} holds a cluster of 1 masters, not 2"
    )


def test_the_data_dir_is_free_again_once_up_stops(tmp_path: Path) -> None:
    with running_up(tmp_path, free_port()):
        pass
    with running_up(tmp_path, free_port()) as again:
        assert "redtask is up" in again.banner


def test_a_closed_terminal_sighup_stops_the_stack_in_order(tmp_path: Path) -> None:
    with running_up(tmp_path, free_port()) as up:
        assert len(up.children) == 3
        up.proc.send_signal(signal.SIGHUP)
        assert up.proc.wait(30) == 0
        assert [pid for pid in up.children if _alive(pid)] == []


def test_children_die_with_a_killed_up(tmp_path: Path) -> None:
    port = free_port()
    with running_up(tmp_path, port) as up:
        assert len(up.children) == 3
        up.proc.kill()
        up.proc.wait(10)
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in up.children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in up.children if _alive(pid)] == []
    with running_up(tmp_path, port) as again:  # the port and the data dir are free
        assert "redtask is up" in again.banner


@pytest.mark.parametrize(("flags", "policy"), [((), "everysec"), (("--fsync", "always"), "always")])
def test_fsync_sets_the_embedded_redis_appendfsync(tmp_path: Path, flags, policy) -> None:
    with running_up(tmp_path, free_port(), *flags) as up:
        client = redis.Redis(port=up.redis_port)
        try:
            assert client.config_get("appendfsync") == {"appendfsync": policy}
        finally:
            client.close()
        assert f"appendfsync {policy}" in up.banner


@pytest.mark.parametrize("command", [["gateway"], ["scheduler"]])
def test_an_unreachable_redis_at_start_is_retried_then_one_line_naming_it(
    command: list[str],
) -> None:
    port = free_port()
    env = _env(
        REDTASK_REDIS_URL=f"redis://user:hunter2@127.0.0.1:{port}/0",
        REDTASK_REDIS_STARTUP_WAIT_S="2",
    )
    started = time.monotonic()

    result = subprocess.run(
        [*REDTASK, *command], capture_output=True, text=True, env=env, timeout=60
    )

    assert 2 <= time.monotonic() - started < 30
    assert result.returncode == 1
    waiting, line = result.stderr.splitlines()
    assert f"cannot reach Redis at 127.0.0.1:{port} (" in waiting
    assert waiting.endswith("retrying for up to 2 s")
    assert line.startswith(
        f"redtask {command[0]}: cannot reach Redis at 127.0.0.1:{port} (REDTASK_REDIS_URL): "
    )
    assert "hunter2" not in result.stderr


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.parametrize("command", [["gateway"], ["scheduler"]])
def test_a_process_started_before_redis_waits_for_it(command: list[str], tmp_path: Path) -> None:
    port, gateway_port = free_port(), free_port()
    env = _env(
        REDTASK_REDIS_URL=f"redis://127.0.0.1:{port}/0", REDTASK_GATEWAY_PORT=str(gateway_port)
    )
    process = subprocess.Popen(
        [*REDTASK, *command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        time.sleep(2)  # Redis is down: the process retries instead of exiting
        assert process.poll() is None
        with EmbeddedRedis(tmp_path, port=port):
            client = redis.Redis(port=port, decode_responses=True)
            deadline = time.monotonic() + 30
            # a scheduler that got through start-up beats; a gateway answers ready
            while command == ["scheduler"] and not client.keys("redtask:scheduler:*"):
                assert process.poll() is None, process.stderr
                assert time.monotonic() < deadline, "the scheduler never started"
                time.sleep(0.1)
            while command == ["gateway"] and not _ready(gateway_port):
                assert process.poll() is None, process.stderr
                assert time.monotonic() < deadline, "the gateway never became ready"
                time.sleep(0.1)
            assert process.poll() is None
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert f"cannot reach Redis at 127.0.0.1:{port} (" in stderr
    assert "retrying for up to 30 s" in stderr


def test_a_worker_on_an_unreachable_redis_names_it_in_its_retries() -> None:
    port = free_port()
    env = _env(REDTASK_REDIS_URL=f"redis://user:hunter2@127.0.0.1:{port}/0")
    worker = subprocess.Popen(
        [*REDTASK, "worker", "--transport", "redis", "examples.order_worker"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )
    time.sleep(3)
    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=30)

    assert f"fetchAndLock failed (redis at 127.0.0.1:{port}: " in stderr, stderr
    assert "hunter2" not in stderr
