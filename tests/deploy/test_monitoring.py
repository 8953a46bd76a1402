"""deploy/components/monitoring: the Grafana dashboard is valid JSON, the alert rules a
PrometheusRule whose spec is in Prometheus' rule-file shape, every metric they query is one the
gateway or the scheduler exports, every render with the component ships exactly these two files,
and its monitors scrape each redtask process once, on the port that serves its metrics, with
Prometheus allowed to reach it."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from redtask.broker.model import NewTask
from redtask.broker.scheduler import Scheduler
from redtask.broker.scheduler_metrics import scheduler_exposition
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from redtask.cli.main import build_parser
from redtask.gateway.app import create_app
from tests.deploy.kube import (
    COMBINATIONS,
    DEPLOY,
    OVERLAYS,
    Obj,
    allowed_ingress,
    named,
    of_kind,
    pod_spec,
)
from tests.deploy.prometheus import DURATION, targets
from tests.gateway.helpers import started

MONITORING = DEPLOY / "components" / "monitoring"
METRIC = re.compile(r"\bredtask_[a-z0-9_]+")


def names(text: str) -> set[str]:
    found = set()
    for family in text_string_to_metric_families(text):
        found.add(family.name)
        found.update(sample.name for sample in family.samples)
    return found


async def exported(settings: Settings, store: Store) -> set[str]:
    await store.publish_many([NewTask("mail")])  # per-topic series exist once a topic does
    app = create_app(settings, store=store)
    async with started(app, store):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await client.get("/health/live")
            await client.get("/metrics")  # a request counted
            gateway = (await client.get("/metrics")).text
    scheduler = scheduler_exposition(Scheduler(store, "s1"))().decode()
    return names(gateway) | names(scheduler)


def dashboard_queries() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    queries += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return queries


def rule_file() -> dict[str, Any]:
    """The spec of alerts.yaml's PrometheusRule: a Prometheus rule file."""
    rule = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    spec: dict[str, Any] = rule["spec"]
    return spec


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in rule_file()["groups"] for rule in group["rules"]]


def used_metrics() -> set[str]:
    """The redtask_ series the dashboard and the alert rules query."""
    used = {m for query in dashboard_queries() for m in METRIC.findall(query)}
    return used | {m for rule in alert_rules() for m in METRIC.findall(rule["expr"])}


def test_the_dashboard_and_the_alerts_have_their_expected_shape() -> None:
    # a rule file has groups, each a name and rules, nothing else
    assert list(rule_file()) == ["groups"]
    assert all(set(group) == {"name", "rules"} for group in rule_file()["groups"])
    for rule in alert_rules():
        # the PrometheusRule schema's fields of an alerting rule, and its duration pattern
        assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
        assert DURATION.fullmatch(rule["for"]), rule["alert"]
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and len(ids) >= 10
    assert all(panel["targets"] and panel["gridPos"] for panel in dashboard["panels"])
    alerts = {rule["alert"]: rule for rule in alert_rules()}
    assert {"RedtaskIncidentsRising", "RedtaskOldestTaskTooOld", "RedtaskNoSchedulerHeartbeat"} <= (
        alerts.keys()
    )
    for rule in alerts.values():
        assert rule["expr"] and rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]


async def test_every_metric_the_dashboard_and_the_alerts_use_is_exported(
    settings: Settings, store: Store
) -> None:
    available = await exported(settings, store)
    used = used_metrics()
    assert len(used) >= 12
    assert sorted(used - available) == []


def monitored(rendered: dict[str, list[Obj]]) -> list[str]:
    """The renders that include components/monitoring."""
    names = [f"combinations/{n}" for n, c in COMBINATIONS.items() if "monitoring" in c]
    names += [f"overlays/{o}" for o in OVERLAYS if o.endswith("+monitoring")]
    assert set(names) <= set(rendered)
    return names


def test_every_render_with_the_component_ships_exactly_these_rules_and_this_dashboard(
    rendered: dict[str, list[Obj]],
) -> None:
    with_component = monitored(rendered)
    assert len(with_component) == 10  # 8 combinations, dev and production
    dashboard_json = (MONITORING / "grafana-dashboard.json").read_text()
    for name, objects in rendered.items():
        rules = of_kind(objects, "PrometheusRule")
        dashboards = [
            c
            for c in of_kind(objects, "ConfigMap")
            if c["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
        ]
        if name not in with_component:
            assert (rules, dashboards) == ([], []), name
            continue
        [rule] = rules
        assert rule["metadata"]["name"] == "redtask"
        assert rule["spec"] == rule_file(), name  # the rules the tests above check
        [dashboard] = dashboards
        assert dashboard["metadata"]["name"] == "redtask-dashboard"  # no hash suffix
        assert dashboard["data"] == {"redtask.json": dashboard_json}, name


def test_the_monitors_scrape_each_redtask_process_once_on_the_port_serving_its_metrics(
    rendered: dict[str, list[Obj]],
) -> None:
    parser = build_parser()
    for name in monitored(rendered):
        objects = rendered[name]
        found = targets(objects)
        assert sorted(
            (t.monitor, t.workload, t.port, t.number, t.path, t.interval) for t in found
        ) == [
            (
                "PodMonitor/redtask-scheduler",
                "redtask-scheduler",
                "metrics",
                9090,
                "/metrics",
                "30s",
            ),
            (
                "PodMonitor/redtask-worker",
                "redtask-order-worker",
                "metrics",
                9090,
                "/metrics",
                "30s",
            ),
            ("ServiceMonitor/redtask-gateway", "redtask-gateway", "http", 8080, "/metrics", "30s"),
        ], name
        allowed = allowed_ingress(objects)
        for target in found:
            [container] = pod_spec(named(objects, "Deployment", target.workload))["containers"]
            args = parser.parse_args(container["args"])
            # the process listens there: the gateway's /metrics is on its HTTP port
            served = args.port if args.command == "gateway" else args.metrics_port
            assert served == target.number, f"{name} {target.monitor}"
            # and Prometheus, from its namespace, may reach it
            assert ("namespace monitoring", target.port) in allowed[target.workload], name


def test_a_monitor_with_a_missing_port_a_stray_field_or_an_empty_selector_fails_the_check(
    rendered: dict[str, list[Obj]],
) -> None:
    objects = copy.deepcopy(rendered["overlays/production+monitoring"])
    worker = pod_spec(named(objects, "Deployment", "redtask-order-worker"))["containers"][0]
    [metrics] = [p for p in worker["ports"] if p["name"] == "metrics"]
    metrics["name"] = "prometheus"
    with pytest.raises(AssertionError, match="redtask-order-worker has no port metrics"):
        targets(objects)
    metrics["name"] = "metrics"
    assert len(targets(objects)) == 3
    endpoint = named(objects, "PodMonitor", "redtask-worker")["spec"]["podMetricsEndpoints"][0]
    endpoint["intervall"] = endpoint.pop("interval")  # the API server would drop it unsaid
    with pytest.raises(AssertionError, match="PodMonitor/redtask-worker"):
        targets(objects)
    endpoint["interval"] = "30 seconds"
    del endpoint["intervall"]
    with pytest.raises(AssertionError, match="PodMonitor/redtask-worker interval"):
        targets(objects)
    endpoint["interval"] = "30s"
    assert len(targets(objects)) == 3
    monitor = named(objects, "ServiceMonitor", "redtask-gateway")
    monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] = "api"
    with pytest.raises(AssertionError, match="ServiceMonitor/redtask-gateway selects no Service"):
        targets(objects)
