"""Every overlay and component combination of deploy/ renders with kustomize, passes
kubernetes-validate --strict (KEDA's and the Prometheus Operator's kinds excepted: the tool has
no schema for them) and checkov with only the skips that deploy/checkov.yaml lists and
explains."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.kube import BIN, COMBINATIONS, DEPLOY, ROOT, Obj, kustomize

# preStop's sleep action is on by default from 1.30; the newest is what the tool knows
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
# keda.sh/v1alpha1 and monitoring.coreos.com/v1 (the monitors' check is tests/deploy/prometheus.py)
CRD_KINDS = {
    "ScaledObject",
    "TriggerAuthentication",
    "PodMonitor",
    "PrometheusRule",
    "ServiceMonitor",
}
CHECKOV = ROOT / ".venv" / "tools" / "checkov" / "bin" / "checkov"


def kinds(objects: list[Obj]) -> list[str]:
    return sorted(o["kind"] for o in objects)


def test_every_overlay_and_combination_renders_the_objects_it_composes(
    rendered: dict[str, list[Obj]],
) -> None:
    broker = ["ConfigMap", "Deployment", "Deployment", "HorizontalPodAutoscaler"]
    broker += ["NetworkPolicy", "NetworkPolicy", "PodDisruptionBudget", "PodDisruptionBudget"]
    broker += ["Secret", "Service"]
    worker = ["Deployment", "PodDisruptionBudget"]
    added = {
        "redis-standalone": [
            *("ConfigMap", "NetworkPolicy", "PodDisruptionBudget"),
            *("Service", "Service", "StatefulSet"),
        ],
        "redis-sentinel": [
            *("ConfigMap", "NetworkPolicy", "PodDisruptionBudget"),
            *("Service", "StatefulSet"),
        ],
        "redis-cluster": [
            *("ConfigMap", "Job", "NetworkPolicy", "PodDisruptionBudget"),
            *("Service", "StatefulSet"),
        ],
        "keda-workers": ["NetworkPolicy", "ScaledObject", "TriggerAuthentication"],
        "monitoring": [
            *("ConfigMap", "NetworkPolicy", "PodMonitor", "PodMonitor"),
            *("PrometheusRule", "ServiceMonitor"),
        ],
    }
    # no Redis component or one of the three, with every subset of the other two
    assert len(COMBINATIONS) == 4 * 4
    for name, components in COMBINATIONS.items():
        composed = broker + worker + [kind for c in components for kind in added[c]]
        assert kinds(rendered[f"combinations/{name}"]) == sorted(composed), name
    dev = [*broker, *worker, *added["redis-standalone"], "Namespace"]
    assert kinds(rendered["overlays/dev"]) == sorted(dev)
    assert kinds(rendered["overlays/dev+monitoring"]) == sorted(dev + added["monitoring"])
    production = [*broker, *worker, *added["keda-workers"], "Namespace", "Ingress"]
    standalone = production + added["redis-standalone"]
    assert kinds(rendered["overlays/production"]) == sorted(standalone)
    monitored = standalone + added["monitoring"]
    assert kinds(rendered["overlays/production+monitoring"]) == sorted(monitored)
    for redis in ("redis-sentinel", "redis-cluster"):
        composed = production + added[redis]
        assert kinds(rendered[f"overlays/production+{redis}"]) == sorted(composed), redis
    assert len(rendered) == 16 + 6
    for name, objects in rendered.items():
        namespaces = {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"}
        overlay = name.removeprefix("overlays/").split("+")[0]
        expected = {"dev": "redtask-dev", "production": "redtask"}
        assert namespaces == {expected.get(overlay, "combination")}, name


def test_production_does_not_render_without_its_own_secrets(tmp_path: Path) -> None:
    """secrets.env is the operator's: without it the build fails instead of shipping the base's
    development values."""
    assert not (DEPLOY / "overlays" / "production" / "secrets.env").exists()
    result = kustomize(DEPLOY / "overlays" / "production")
    assert result.returncode != 0
    assert "secrets.env" in result.stderr


def test_kubernetes_validate_strict_passes_on_every_rendered_object(
    rendered: dict[str, list[Obj]], tmp_path: Path
) -> None:
    files = []
    for name, objects in rendered.items():
        path = tmp_path / (name.replace("/", "_") + ".yaml")
        path.write_text(yaml.safe_dump_all(objects))
        files.append(str(path))
    for version in KUBERNETES_VERSIONS:
        result = subprocess.run(
            [str(BIN / "kubernetes-validate"), "--strict", "-k", version, *files],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        output = (result.stdout + result.stderr).splitlines()
        unchecked = {line.split("for kind ")[1].split()[0] for line in output if "WARN" in line}
        assert unchecked == CRD_KINDS  # warned about, not validated: no schema in the tool
        checked = sum(1 for line in output if " passed for resource " in line)
        total = sum(1 for o in rendered.values() for d in o if d["kind"] not in CRD_KINDS)
        assert checked == total


@pytest.mark.slow
@pytest.mark.skipif(
    not CHECKOV.exists(), reason="checkov is not installed: run deploy/tools/install-checkov"
)
def test_checkov_passes_with_only_the_documented_skips(
    rendered: dict[str, list[Obj]], tmp_path: Path
) -> None:
    for name, objects in rendered.items():
        (tmp_path / (name.replace("/", "_") + ".yaml")).write_text(yaml.safe_dump_all(objects))
    config = DEPLOY / "checkov.yaml"
    result = subprocess.run(
        [str(CHECKOV), "--config-file", str(config), "-d", str(tmp_path), "-o", "json", "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        (c["check_id"], c["resource"], c["file_path"])
        for r in reports
        for c in r["results"]["failed_checks"]
    ]
    assert failed == []
    assert result.returncode == 0, result.stderr
    skips = yaml.safe_load((DEPLOY / "checkov.yaml").read_text())["skip-check"]
    assert sorted(skips) == ["CKV_K8S_15", "CKV_K8S_35", "CKV_K8S_43"]
    assert sum(r["summary"]["passed"] for r in reports) > 300
