"""The layering rules of the codebase: only the store layer talks to Redis, only keys.py
formats key names, and the core never imports the gateway or the worker."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORE_LAYER = {
    "broker/instances.py",
    "broker/definitions.py",
    "broker/instance_reads.py",
    "broker/history.py",
    "broker/store.py",
    "broker/store_base.py",
    "broker/reads.py",
    "broker/connection.py",
    "broker/embedded.py",
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


def test_only_the_store_layer_imports_redis() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in _sources("broker", "gateway")
        if str(p.relative_to(ROOT)) not in STORE_LAYER
        and any(n == "redis" or n.startswith("redis.") for n in _imports(p))
    ]
    assert offenders == []


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
        if any(n in ("httpx", "urllib.request", "http.client") for n in _imports(p))
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
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
