"""``redtask worker --lanes`` and ``REDTASK_WORKER_LANES``: how many poll lanes the direct-Redis
transport shares a worker's concurrency among (the flag wins over the environment; a module's
own direct-Redis transport is adjusted, not replaced)."""

from __future__ import annotations

import pytest

from redtask.broker.settings import Settings
from redtask.cli.main import build_parser
from redtask.cli.serving import configure
from redtask.worker import Worker
from redtask.worker.settings import WorkerSettings
from redtask.worker.transport.redis import RedisTransport
from redtask.worker.transport.rest import RestTransport


def configured(argv: list[str], worker: Worker | None = None) -> Worker:
    args = build_parser().parse_args(["worker", "examples.order_worker:worker", *argv])
    worker = worker or Worker()
    configure(worker, args, WorkerSettings())
    return worker


def test_the_flag_sets_the_lanes_of_the_redis_transport(redis_url: str) -> None:
    worker = configured(["--transport", "redis", "--redis-url", redis_url, "--lanes", "1"])
    assert isinstance(worker.transport, RedisTransport)
    assert worker.transport.max_lanes == 1
    assert len(worker.transport.lanes(8)) == 1
    default = configured(["--transport", "redis", "--redis-url", redis_url])
    assert isinstance(default.transport, RedisTransport) and default.transport.max_lanes == 2


def test_the_environment_sets_them_and_the_flag_wins(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDTASK_WORKER_LANES", "3")
    worker = configured(["--transport", "redis", "--redis-url", redis_url])
    assert isinstance(worker.transport, RedisTransport) and worker.transport.max_lanes == 3
    worker = configured(["--transport", "redis", "--redis-url", redis_url, "--lanes", "2"])
    assert isinstance(worker.transport, RedisTransport) and worker.transport.max_lanes == 2


def test_a_modules_own_redis_transport_is_kept_and_adjusted(redis_url: str) -> None:
    own = RedisTransport(Settings(redis_url=redis_url))
    worker = configured(["--lanes", "1"], Worker(own))
    assert worker.transport is own and own.max_lanes == 1
    rest = RestTransport("http://127.0.0.1:9/engine-rest")
    assert configured(["--lanes", "3"], Worker(rest)).transport is rest  # REST has no lanes


def test_bad_lane_counts_are_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["worker", "m:w", "--lanes", "0"])
    assert exit_.value.code == 2
    assert "--lanes: must be at least 1" in capsys.readouterr().err
    monkeypatch.setenv("REDTASK_WORKER_LANES", "0")
    with pytest.raises(ValueError, match="lanes"):
        WorkerSettings()
    with pytest.raises(ValueError, match="lanes must be at least 1"):
        RedisTransport(lanes=0)
