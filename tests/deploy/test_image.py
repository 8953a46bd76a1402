"""The images: a multi-stage build from a pinned slim Python, non-root, with a HEALTHCHECK; the
worker image builds FROM it; the build context that .dockerignore lets through is exactly what
the two images copy."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

from tests.deploy.kube import DEPLOY, ROOT

PACKAGE_DIRS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
    "package-dir"
]


def _pattern(rule: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker matches it (Go's filepath.Match plus ``**``)."""
    out = ""
    i = 0
    while i < len(rule):
        if rule.startswith("**/", i):
            out += "(.*/)?"
            i += 3
        elif rule.startswith("**", i):
            out += ".*"
            i += 2
        elif rule[i] == "*":
            out += "[^/]*"
            i += 1
        elif rule[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(rule[i])
            i += 1
    return re.compile(out + "$")


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        rules.append((keep, _pattern(os.path.normpath(line.lstrip("!")).strip("/"))))
    return rules


def sent(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether Docker sends ``path``: the last rule matching it or one of its parent folders
    decides (Docker's MatchesOrParentMatches)."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for keep, pattern in rules:
        if any(pattern.match(c) for c in candidates):
            excluded = not keep
    return not excluded


def _reached(folder: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    return any(
        keep and pattern.pattern.startswith(re.escape(folder + "/")) for keep, pattern in rules
    )


def context_files() -> set[str]:
    """Every file of the working tree (untracked ones too: .venv, redtask-data) Docker would
    send."""
    rules = dockerignore_rules()
    found = set()
    for folder, dirs, files in os.walk(ROOT):
        relative = Path(folder).relative_to(ROOT).as_posix()
        prefix = "" if relative == "." else f"{relative}/"
        # an excluded folder that no exception reaches into is skipped whole, as Docker does
        dirs[:] = [d for d in dirs if sent(prefix + d, rules) or _reached(prefix + d, rules)]
        for name in files:
            path = name if relative == "." else f"{relative}/{name}"
            if sent(path, rules):
                found.add(path)
    return found


def needed_files() -> set[str]:
    """What the images copy: the package's folders, its metadata, the example handlers."""
    needed = {"pyproject.toml", "README.md"}
    for folder in [*PACKAGE_DIRS.values(), "examples"]:
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                needed.add(path.relative_to(ROOT).as_posix())
    return needed


def test_the_build_context_is_exactly_what_the_images_copy(tmp_path: Path) -> None:
    assert context_files() == needed_files()
    rules = dockerignore_rules()
    for path in (
        ".venv/bin/python",
        "redtask-data/appendonlydir/appendonly.aof.1.incr.aof",
        ".git/HEAD",
        "tests/conftest.py",
        "broker/__pycache__/store.cpython-311.pyc",
        "redtask.egg-info/PKG-INFO",
        "deploy/overlays/production/secrets.env",
    ):
        assert not sent(path, rules), path
    assert sent("broker/scripts/fetch_and_lock.lua", rules)


def from_lines(dockerfile: Path) -> list[str]:
    return [line for line in dockerfile.read_text().splitlines() if line.startswith("FROM ")]


def test_the_redtask_image_builds_wheels_then_installs_them_into_a_pinned_slim_python() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    [base] = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base), base  # a version, not a tag
    assert from_lines(DEPLOY / "Dockerfile") == [
        "FROM ${PYTHON_IMAGE} AS build",
        "FROM ${PYTHON_IMAGE}",
    ]
    build, runtime = text.split("\nFROM ${PYTHON_IMAGE}\n")
    assert "pip wheel" in build
    # the runtime stage installs wheels only: nothing compiles there, nothing is fetched
    assert "pip install --no-cache-dir --no-index /wheels/*.whl" in runtime
    assert not re.search(r"apt-get|gcc|build-essential|COPY (?!--from)", runtime)
    assert re.search(r"^USER 10001:10001$", runtime, re.M)
    assert re.search(r"^HEALTHCHECK .*\n.*/health/live", runtime, re.M)
    assert 'ENTRYPOINT ["redtask"]' in runtime


def test_the_worker_image_is_the_redtask_image_plus_the_handlers() -> None:
    dockerfile = DEPLOY / "worker" / "Dockerfile"
    text = dockerfile.read_text()
    assert from_lines(dockerfile) == ["FROM ${REDTASK_IMAGE}"]
    assert re.search(r"^ARG REDTASK_IMAGE=redtask:0\.1\.0$", text, re.M)
    assert "COPY --chown=0:0 examples /app/examples" in text
    assert "USER" not in text  # the redtask image's non-root user stays


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "worker/Dockerfile"])
def test_every_copied_path_is_in_the_build_context(dockerfile: str) -> None:
    context = context_files()
    for line in (DEPLOY / dockerfile).read_text().splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            *sources, _ = [w for w in line.split()[1:] if not w.startswith("--")]
            for source in sources:
                assert any(p == source or p.startswith(source + "/") for p in context), source
