"""ruff (lint + format) is clean everywhere, mypy --strict is clean on the core, the gateway,
the SDK and the command line, and no module grows past about 400 lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the folders of Python code, tests included, and the most lines a module of theirs may have
CODE_FOLDERS = ("broker", "gateway", "worker", "redtask", "tests", "bench", "examples")
MAX_MODULE_LINES = 420


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_ruff_lint_and_format_are_clean() -> None:
    lint = _run("ruff", "check", ".")
    assert lint.returncode == 0, lint.stdout
    fmt = _run("ruff", "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout


def package_tree(into: Path) -> Path:
    """The ``redtask`` package as it installs (broker/, gateway/ and worker/ inside it), made of
    symbolic links: mypy resolves imports from folders, not through the editable install's
    import hook."""
    package = into / "redtask"
    package.mkdir()
    for entry in (ROOT / "redtask").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for name in ("broker", "gateway", "worker"):
        (package / name).symlink_to(ROOT / name)
    return package


def test_mypy_strict_is_clean_on_the_core(tmp_path: Path) -> None:
    package_tree(tmp_path)
    result = _run("mypy", "--config-file", str(ROOT / "pyproject.toml"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "Success: no issues found" in result.stdout


def test_no_module_is_longer_than_420_lines() -> None:
    """A module past about 400 lines is split along a seam: by concern, a test file by the
    behaviour it tests, with the helpers its parts share in a helper module next to them."""
    offenders = {
        str(path.relative_to(ROOT)): lines
        for folder in CODE_FOLDERS
        for path in sorted((ROOT / folder).rglob("*.py"))
        if not {"node_modules", ".venv"} & set(path.relative_to(ROOT).parts)
        and (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert offenders == {}, f"modules over {MAX_MODULE_LINES} lines: {offenders}"
