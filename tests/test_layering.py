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


def test_the_core_imports_neither_gateway_nor_worker() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in _sources("broker")
        if any(n.split(".")[0] in ("gateway", "worker") for n in _imports(p))
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
        "import sys, worker, worker.cli, worker.transport.rest; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'broker', 'gateway'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
