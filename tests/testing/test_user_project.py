"""A user's project outside the repository depends on ``redtask[testing]``, installs, and tests
its worker and process with the plugin's fixtures: found through the ``pytest11`` entry point of
the installed distribution (the project has no conftest.py), and gone with ``-p no:redtask``.

Offline and quick: the project's virtual environment sees the dependencies already installed
here (every entry of this environment's site-packages except redtask itself), redtask is built
from a copy of this source tree without build isolation, and pip resolves with ``--no-index``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PYPROJECT = """
    [build-system]
    requires = ["setuptools>=68"]
    build-backend = "setuptools.build_meta"

    [project]
    name = "acme-orders"
    version = "1.0.0"
    requires-python = ">=3.11"
    dependencies = ["redtask[testing]"]

    [tool.setuptools]
    packages = ["orders"]

    [tool.setuptools.package-data]
    orders = ["*.bpmn"]

    [tool.pytest.ini_options]
    asyncio_mode = "auto"
    asyncio_default_fixture_loop_scope = "function"
"""

USER_TEST = """
    from pathlib import Path

    import orders
    import redtask
    from orders.worker import worker

    ORDER = Path(orders.__file__).with_name("order.bpmn")


    async def test_a_book_ships_by_post(redtask_broker, redtask_process, redtask_worker):
        order = await redtask_process(ORDER, {"item": "book", "quantity": 2})
        await redtask_worker(worker).run_until_idle()
        (await redtask_broker.instance(order)).ended_at("order_shipped").has_variables(
            carrier="post"
        )


    async def test_too_many_lamps_are_rejected(redtask_broker, redtask_process, redtask_worker):
        order = await redtask_process(ORDER, {"item": "lamp", "quantity": 50})
        await redtask_worker(worker).run_until_idle()
        (await redtask_broker.instance(order)).ended_at("order_rejected")


    def test_the_plugin_is_the_installed_redtask(pytestconfig):
        plugin = pytestconfig.pluginmanager.get_plugin("redtask")
        assert plugin.__name__ == "redtask.testing.plugin"
        dists = {d.project_name for _, d in pytestconfig.pluginmanager.list_plugin_distinfo()}
        assert "redtask" in dists
        print("redtask imported from", Path(redtask.__file__).parent)
"""


def _site_packages(python: Path) -> Path:
    out = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def _is_redtask(name: str) -> bool:
    return name == "redtask" or name.startswith(("redtask-", "__editable__"))


def _run(*command: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_a_user_project_installs_redtask_and_tests_with_its_plugin(tmp_path: Path) -> None:
    # an environment with this one's dependencies but not redtask
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    deps = tmp_path / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not _is_redtask(entry.name) and entry.name != "__pycache__":
            (deps / entry.name).symlink_to(entry)
    (_site_packages(python) / "dependencies.pth").write_text(f"{deps}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDTASK_", "PYTHON", "PIP_"))}
    env["PIP_CONFIG_FILE"] = os.devnull  # no index, no find-links but ours

    # redtask's wheel, built from a copy of the source tree (the tree itself stays untouched)
    source = tmp_path / "redtask-src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    package_dirs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"
    ]
    for folder in set(package_dirs.values()):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    wheels = tmp_path / "wheels"
    pip = (python, "-m", "pip", "--disable-pip-version-check")
    built = _run(
        *pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels, source,
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr

    # the user's project: a worker, a process, a test, no conftest.py
    project = tmp_path / "acme-orders"
    (project / "orders").mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (project / "orders" / "__init__.py").write_text("")
    shutil.copy(ROOT / "examples" / "order_worker.py", project / "orders" / "worker.py")
    shutil.copy(ROOT / "examples" / "order.bpmn", project / "orders" / "order.bpmn")
    (project / "tests" / "test_orders.py").write_text(textwrap.dedent(USER_TEST))
    installed = _run(
        *pip, "install", "-q", "--no-index", "--find-links", wheels, "--no-build-isolation",
        project, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    assert not list(project.rglob("conftest.py"))

    tested = _run(
        python, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", cwd=project, env=env
    )
    without = _run(
        python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:redtask",
        cwd=project, env=env,
    )  # fmt: skip

    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "3 passed" in tested.stdout
    assert f"redtask imported from {_site_packages(python) / 'redtask'}" in tested.stdout
    assert without.returncode == 1, without.stdout
    assert "fixture 'redtask_broker' not found" in without.stdout
    assert "2 errors" in without.stdout
