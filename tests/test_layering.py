"""The layering rules of the codebase: only the Redis layer talks to Redis, only keys.py
formats key names, and the core never imports the gateway or the worker."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the only modules that import redis or hold the client: the script runner and its primitives,
# opening a connection, and the embedded server
REDIS_LAYER = {
    "broker/redis_layer.py",
    "broker/pipelined.py",
    "broker/connection.py",
    "broker/embedded.py",
}
# attributes that hold a client, and methods only a client (or its pipeline) has
CLIENT_ATTRIBUTES = {"redis", "client", "_client"}
CLIENT_METHODS = {
    "pipeline",
    "evalsha",
    "execute_command",
    "scan_iter",
    "pubsub",
    "script_load",
    "hget",
    "hgetall",
    "hmget",
    "hset",
    "hsetnx",
    "zadd",
    "zcard",
    "zrange",
    "zrangebyscore",
    "zrem",
    "zrevrange",
    "sadd",
    "scard",
    "smembers",
    "srem",
    "mget",
    "xadd",
    "xrevrange",
    "watch",
    "multi",
    "config_get",
    "aclose",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _sources(*packages: str) -> list[Path]:
    return [p for pkg in packages for p in sorted((ROOT / pkg).rglob("*.py"))]


def _printed_by(probe: str) -> str:
    """What ``probe`` prints, run in a fresh interpreter (nothing imported yet)."""
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def _redis_uses(source: str) -> list[str]:
    """Where ``source`` imports redis or reaches a client: reads an attribute that holds one
    (``self.redis``, ``layer.client``; assigning one is not a use) or calls a method only a
    client has (``.pipeline(``, ``.evalsha(``, ``.hgetall(`` ...)."""
    tree = ast.parse(source)
    found = [
        f"line {node.lineno}: import redis" for node in ast.walk(tree) if _is_redis_import(node)
    ]
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if node.attr in CLIENT_ATTRIBUTES and isinstance(node.ctx, ast.Load):
            found.append(f"line {node.lineno}: .{node.attr}")
        elif node.attr in CLIENT_METHODS:
            found.append(f"line {node.lineno}: .{node.attr}(")
    return found


def _is_redis_import(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name == "redis" or a.name.startswith("redis.") for a in node.names)
    if isinstance(node, ast.ImportFrom):
        module = node.module or ""
        return node.level == 0 and (module == "redis" or module.startswith("redis."))
    return False


def test_the_redis_check_sees_imports_and_clients_reached_through_attributes() -> None:
    assert _redis_uses("import redis.asyncio as aioredis") != []
    assert _redis_uses("from redis.exceptions import WatchError") != []
    assert _redis_uses("async def f(self):\n    await self.redis.hget('k', 'f')") != []
    assert _redis_uses("async def f(store):\n    return store.db.client") != []
    assert _redis_uses("async def f(db):\n    async with db.pipeline() as p: pass") != []
    assert _redis_uses("async def f(x):\n    await x.evalsha('sha', 1, 'k')") != []
    assert (
        _redis_uses("class S:\n    def __init__(self, client):\n        self.redis = client") == []
    )
    assert _redis_uses("async def f(self):\n    await self.db.execute('GET', 'k')") == []


def test_only_the_redis_layer_talks_to_redis() -> None:
    """Every other module of the broker and the gateway goes through the Redis layer: it
    neither imports redis nor reaches a client through an attribute."""
    offenders = {
        str(p.relative_to(ROOT)): uses
        for p in _sources("broker", "gateway")
        if str(p.relative_to(ROOT)) not in REDIS_LAYER and (uses := _redis_uses(p.read_text()))
    }
    assert offenders == {}


def test_the_core_imports_neither_gateway_nor_worker_nor_the_cli() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in _sources("broker")
        if any(
            n.startswith(("redtask.gateway", "redtask.worker", "redtask.cli")) or n == "redtask"
            for n in _imports(p)
        )
    ]
    assert offenders == []


def test_everything_imports_under_the_one_root() -> None:
    """No module imports broker, gateway or worker as top-level names: those would be a user's
    modules (or another distribution's), not redtask's."""
    offenders = [
        f"{p.relative_to(ROOT)}: {n}"
        for p in _sources("redtask", "broker", "gateway", "worker", "tests", "bench", "examples")
        for n in _imports(p)
        if n.split(".")[0] in ("broker", "gateway", "worker")
    ]
    assert offenders == []


def test_the_core_holds_no_http_client() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in _sources("broker")
        if any(n in ("httpx", "aiohttp", "urllib.request", "http.client") for n in _imports(p))
    ]
    assert offenders == []


def test_key_names_are_formatted_only_in_keys_py() -> None:
    offenders = []
    for p in _sources("broker", "gateway"):
        text = p.read_text()
        if p.name != "keys.py" and ('f"{{{' in text or ":t:" in text or "}:t:" in text):
            offenders.append(str(p.relative_to(ROOT)))
    assert offenders == []


def test_the_rest_worker_runs_without_the_broker_or_the_gateway() -> None:
    """The REST transport speaks only Camunda's API, so the SDK runs against a real Camunda 7."""
    probe = (
        "import sys, redtask, redtask.cli.worker, redtask.worker.transport.rest; "
        "print(sorted({'.'.join(m.split('.')[:2]) for m in sys.modules}"
        " & {'redtask.broker', 'redtask.gateway'}))"
    )
    assert _printed_by(probe) == "[]"


def test_nothing_but_tests_and_examples_imports_the_test_kit() -> None:
    """redtask.testing (and its fakeredis) stays an extra: the core, the gateway, the SDK and
    the command line neither import it nor load it when imported. (The benchmarks may: they
    start their Redis topologies with redtask.testing.servers.)"""
    offenders = [
        f"{p.relative_to(ROOT)}: {n}"
        for p in _sources("broker", "gateway", "worker", "redtask/cli")
        for n in _imports(p)
        if n.startswith("redtask.testing") or n.split(".")[0] in ("fakeredis", "lupa")
    ]
    assert offenders == []
    probe = (
        "import sys, redtask, redtask.broker.store, redtask.worker, redtask.cli.main; "
        "print(sorted({m for m in sys.modules if m.startswith(('redtask.testing', 'fakeredis'))}))"
    )
    assert _printed_by(probe) == "[]"


def test_no_benchmark_imports_the_tests() -> None:
    """bench/ measures the installed product: what it shares with the tests lives in the test
    kit (redtask.testing), not in tests/."""
    offenders = [
        f"{p.relative_to(ROOT)}: {n}"
        for p in _sources("bench")
        for n in _imports(p)
        if n == "tests" or n.startswith("tests.")
    ]
    assert offenders == []


def test_the_local_redis_topologies_run_without_fakeredis() -> None:
    """redtask.testing.servers starts real servers: a benchmark loads it without fakeredis,
    pytest or the tests."""
    assert not any(
        n.split(".")[0] in ("fakeredis", "lupa", "pytest", "tests")
        for n in _imports(ROOT / "redtask" / "testing" / "servers.py")
    )
    probe = (
        "import sys, redtask.testing.servers; print(sorted({m for m in sys.modules"
        " if m.split('.')[0] in ('fakeredis', 'lupa', 'pytest', '_pytest', 'tests')}))"
    )
    assert _printed_by(probe) == "[]"
