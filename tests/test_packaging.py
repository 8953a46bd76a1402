"""One import root: the wheel installs ``redtask`` and nothing else at the top level, with
broker/, gateway/ and worker/ inside it; a user's own ``worker.py`` or ``broker.py`` does not
collide with redtask's packages."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest

from redtask.broker.model import NewTask
from redtask.broker.store import Store
from tests.processes import redtask_env
from tests.worker.helpers import appears, eventually, finished

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
    "package-dir"
]


SHIPPED = (".py", ".lua", ".typed", ".html", ".svg", ".css", ".js")
"""The suffixes of the files a wheel must carry: modules, scripts, the dashboard's assets."""


def _sources() -> dict[str, str]:
    """Every module, script and dashboard asset of the source tree by the path it must have in
    the wheel."""
    found = {}
    for package, folder in PACKAGE_DIRS.items():
        prefix = package.replace(".", "/")
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in SHIPPED and "__pycache__" not in path.parts:
                relative = path.relative_to(ROOT / folder).as_posix()
                found.setdefault(f"{prefix}/{relative}", relative)
    return found


@pytest.mark.slow
def test_the_wheel_installs_only_redtask_at_the_top_level(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in set(PACKAGE_DIRS.values()):
        shutil.copytree(
            ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp_path, source],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    [wheel] = tmp_path.glob("redtask-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    assert {n.split("/")[0] for n in names} == {
        "redtask",
        wheel.name.rsplit("-", 3)[0] + ".dist-info",
    }
    assert sorted(set(_sources()) - names) == []
    assert "redtask/broker/scripts/fetch_and_lock.lua" in names
    assert "redtask/py.typed" in names
    assert "redtask/gateway/ui/templates/base.html" in names
    assert "redtask/gateway/ui/static/dashboard.js" in names
    # the test kit and its pytest plugin, registered for pytest's entry-point discovery
    assert "redtask/testing/plugin.py" in names
    dist_info = wheel.name.rsplit("-", 3)[0] + ".dist-info"
    entry_points = zipfile.ZipFile(wheel).read(f"{dist_info}/entry_points.txt").decode()
    assert "[pytest11]\nredtask = redtask.testing.plugin\n" in entry_points


def test_the_image_copies_every_folder_the_package_is_built_from() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text().splitlines()
    copied = {line.split()[1] for line in dockerfile if line.startswith("COPY ")}
    assert set(PACKAGE_DIRS.values()) <= copied


USER_WORKER = """
    from pathlib import Path

    import broker  # the user's own module, beside this one

    from redtask import Worker

    app = Worker()


    @app.task("TOPIC")
    def double(n: int) -> dict[str, int]:
        Path("doubled").write_text(str(broker.double(n)))
        return {"doubled": broker.double(n)}
"""


async def test_a_user_module_named_worker_beside_one_named_broker_runs_as_a_worker(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    topic = f"user-{tmp_path.name}"
    (tmp_path / "worker.py").write_text(textwrap.dedent(USER_WORKER).replace("TOPIC", topic))
    (tmp_path / "broker.py").write_text("def double(n: int) -> int:\n    return 2 * n\n")
    task_id = await store.publish(NewTask(topic, variables={"n": {"value": 21, "type": "Integer"}}))
    env = redtask_env(store_url, store.settings.namespace, store.settings.partitions)
    redtask = Path(sys.executable).with_name("redtask")
    command = [str(redtask), "worker", "worker:app", "--transport", "redis"]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        await appears(tmp_path / "doubled")
        await eventually(lambda: finished(store, task_id))
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=60)

    assert (tmp_path / "doubled").read_text() == "42"
    assert proc.returncode == 0, stderr


def test_the_sdk_names_import_from_the_root_and_the_store_api_on_first_use() -> None:
    probe = (
        "import sys, redtask\n"
        "from redtask import Backoff, BpmnError, Complete, ExternalTask, Router, TaskFailure\n"
        "from redtask import Typed, Worker\n"
        "import redtask.worker as sdk\n"
        "assert (Worker, Router, BpmnError) == (sdk.Worker, sdk.Router, sdk.BpmnError)\n"
        "print('redtask.broker.store' in sys.modules)\n"
        "from redtask import open_store\n"
        "from redtask.broker.store import open_store as store_open\n"
        "print(open_store is store_open, open_store is redtask.broker.open_store)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "True", "True"]
