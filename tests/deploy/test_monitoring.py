"""deploy/monitoring: the Grafana dashboard is valid JSON, the alert rules valid YAML in
Prometheus' rule-file shape, and every metric they query is one the gateway or the scheduler
exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from redtask.broker.model import NewTask
from redtask.broker.scheduler import Scheduler
from redtask.broker.scheduler_metrics import scheduler_exposition
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from redtask.gateway.app import create_app
from tests.gateway.helpers import started

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
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


def alert_rules() -> list[dict]:
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def test_the_dashboard_and_the_alerts_have_their_expected_shape() -> None:
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
    used = {m for query in dashboard_queries() for m in METRIC.findall(query)}
    used |= {m for rule in alert_rules() for m in METRIC.findall(rule["expr"])}

    assert len(used) >= 12
    assert sorted(used - available) == []
