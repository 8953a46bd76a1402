"""The Kubernetes manifests in deploy/ parse, run redtask commands that exist, and give a
worker pod more time to stop than the worker's own grace period."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from redtask.cli.main import build_parser
from redtask.cli.worker import load_worker

ROOT = Path(__file__).resolve().parents[2]


def deployments() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((ROOT / "deploy").rglob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == "Deployment"]
    return docs


def test_every_container_runs_a_redtask_command_the_cli_accepts() -> None:
    found = deployments()
    assert {d["metadata"]["name"] for d in found} == {
        "redtask-gateway",
        "redtask-scheduler",
        "redtask-order-worker",
    }
    parser = build_parser()
    for deployment in found:
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            args = parser.parse_args(container["args"])
            assert callable(args.func), container["args"]


def test_the_worker_pod_outlives_the_worker_s_grace_period_and_its_target_loads() -> None:
    [worker] = [d for d in deployments() if d["metadata"]["name"] == "redtask-order-worker"]
    pod = worker["spec"]["template"]["spec"]
    args = build_parser().parse_args(pod["containers"][0]["args"])
    assert args.grace < pod["terminationGracePeriodSeconds"]
    assert load_worker(args.target).specs
