"""deploy/ rendered once per session: every overlay and component combination."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.kube import Obj, deploy_copy, render_all


@pytest.fixture(scope="session")
def deploy_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return deploy_copy(tmp_path_factory.mktemp("deploy"))


@pytest.fixture(scope="session")
def rendered(deploy_tree: Path) -> dict[str, list[Obj]]:
    return render_all(deploy_tree)
