#!/usr/bin/env python
"""Lay out another revision's package for the benchmarks' ``--baseline DIR``.

    .venv/bin/python bench/baseline.py REV DIR

Writes ``git archive REV`` to ``DIR/src`` and assembles the importable package ``DIR/redtask``
as pyproject.toml's package-dir maps it (``redtask/`` with ``broker/``, ``gateway/`` and
``worker/`` inside), then checks that a process started with ``PYTHONPATH=DIR`` outside this
checkout imports that copy and not the installed one. The benchmarks start the baseline's
processes that way: servers with DIR as their working directory (``python -m redtask``), worker
scripts with ``PYTHONPATH=DIR`` (the scripts put this checkout after it on ``sys.path``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPED = ("broker", "gateway", "worker")  # pyproject.toml: [tool.setuptools.package-dir]


def lay_out(rev: str, target: Path) -> Path:
    src = target / "src"
    shutil.rmtree(target, ignore_errors=True)
    src.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
    package = target / "redtask"
    shutil.copytree(src / "redtask", package)
    for name in MAPPED:
        shutil.copytree(src / name, package / name)
    return package


def imported_from(target: Path) -> str:
    probe = "import redtask.worker.transport.rest as m; print(m.__file__)"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=target,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    target = Path(sys.argv[2]).resolve()
    package = lay_out(sys.argv[1], target)
    where = imported_from(target)
    if not where.startswith(str(package)):
        print(f"a process with PYTHONPATH={target} imports {where}", file=sys.stderr)
        return 1
    print(f"{sys.argv[1]} laid out in {package}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
