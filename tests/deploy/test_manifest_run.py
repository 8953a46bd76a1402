"""The production overlay with components/monitoring, run: Redis from the StatefulSet's own
redis.conf and args, the gateway, the scheduler and the order worker from their Deployments' args,
env (ConfigMap and Secret) and probes, as local processes (tests/deploy/local_pods.py). Every
probe passes as the kubelet runs it, orders go through the example process, KEDA's triggers read
the backlog from the real gateway, every target of the Prometheus monitors answers its metrics as
Prometheus scrapes them, a parked long poll answers before its gateway stops, and every process
exits 0 on SIGTERM within its pod's grace period."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.gjson import MISSING, get
from tests.deploy.kube import ROOT, Obj, named, of_kind, secret_values
from tests.deploy.local_pods import LocalPods
from tests.deploy.prometheus import targets
from tests.deploy.test_monitoring import used_metrics

PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
GATEWAY_FAMILIES = {
    *("redtask_http_requests", "redtask_http_request_duration_seconds"),
    *("redtask_long_polls_parked", "redtask_long_poll_wake_latency_seconds"),
    *("redtask_redis_errors", "redtask_broker_state_read_seconds", "redtask_topic_tasks"),
    "redtask_topic_oldest_available_task_age_seconds",
    *("redtask_process_instances_running", "redtask_incidents_open"),
}
SCHEDULER_FAMILIES = {
    *("redtask_scheduler_passes", "redtask_scheduler_tasks_swept"),
    *("redtask_scheduler_timers_fired", "redtask_scheduler_instances_forgotten"),
    "redtask_scheduler_redis_errors",
    *(
        "redtask_scheduler_last_pass_timestamp_seconds",
        "redtask_scheduler_last_pass_duration_seconds",
    ),
}
WORKER_FAMILIES = {
    *("redtask_worker_tasks_fetched", "redtask_worker_tasks_completed"),
    *("redtask_worker_tasks_failed", "redtask_worker_bpmn_errors"),
    *("redtask_worker_lock_extensions", "redtask_worker_handler_duration_seconds"),
    "redtask_worker_tasks_in_flight",
}


def trigger_values(pods: LocalPods, objects: list[Obj], auth: tuple[str, str]) -> dict[str, float]:
    """Each KEDA trigger's metric, read as KEDA's metrics-api scaler reads it: GET the url with
    the TriggerAuthentication's basic auth, then the GJSON valueLocation, which must give a
    number."""
    values = {}
    for trigger in named(objects, "ScaledObject", "redtask-order-worker")["spec"]["triggers"]:
        meta = trigger["metadata"]
        assert (meta["format"], meta["authMode"]) == ("json", "basic")
        response = httpx.get(pods.url_for(meta["url"]), auth=auth, timeout=5)
        assert response.status_code == 200
        value = get(response.json(), meta["valueLocation"])
        assert value is not MISSING and isinstance(value, int | float), trigger["name"]
        values[trigger["name"]] = value
    return values


# what Prometheus sends (it takes the text format when OpenMetrics is not offered)
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def scrape(pods: LocalPods, objects: list[Obj]) -> dict[str, dict[str, Metric]]:
    """Every monitor's targets scraped as Prometheus scrapes them: GET on the port and path the
    monitor names, without credentials, parsed with prometheus_client's text parser. Workload ->
    its redtask_ metric families by name."""
    scraped: dict[str, dict[str, Metric]] = {}
    for target in targets(objects):
        port = pods.containers[target.workload].ports[target.port]
        url = f"http://127.0.0.1:{port}{target.path}"
        response = httpx.get(url, headers={"Accept": PROMETHEUS_ACCEPT}, timeout=10)
        assert response.status_code == 200, target
        # the text format, which Prometheus parses whatever the version parameter says
        assert response.headers["content-type"].split(";")[0] == "text/plain", target
        families = text_string_to_metric_families(response.text)
        assert target.workload not in scraped  # one target per process
        # without the _created gauges the text format adds beside each counter and histogram
        scraped[target.workload] = {
            f.name: f
            for f in families
            if f.name.startswith("redtask_") and not f.name.endswith("_created")
        }
    return scraped


def sample_values(family: Metric, label: str | None = None) -> dict[str | None, float]:
    """A family's samples (the _total of a counter) by the value of ``label``."""
    return {
        s.labels.get(label) if label else None: s.value
        for s in family.samples
        if s.name in (family.name, family.name + "_total")
    }


def backlog(values: dict[str, float], **expected: int) -> dict[str, float]:
    """The trigger values with every one not named in ``expected`` equal to 0."""
    return {name: expected.get(name.replace("-", "_"), 0) for name in values}


def start_order(gateway: str, auth: tuple[str, str], key: str, **variables: Any) -> str:
    body = {
        "businessKey": key,
        "variables": {
            k: {
                "value": v,
                "type": "Boolean"
                if isinstance(v, bool)
                else "String"
                if isinstance(v, str)
                else "Integer",
            }
            for k, v in variables.items()
        },
    }
    response = httpx.post(f"{gateway}/process-definition/key/order/start", json=body, auth=auth)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


@pytest.mark.slow
def test_the_production_manifests_run_as_written(
    rendered: dict[str, list[Obj]], tmp_path: Path
) -> None:
    objects = rendered["overlays/production+monitoring"]
    [secret] = of_kind(objects, "Secret")
    values = secret_values(secret)
    keda = (values["KEDA_USERNAME"], values["KEDA_PASSWORD"])
    user, _, password = values["AUTH_USERS"].split(",")[1].partition(":")
    pods = LocalPods(objects, tmp_path)
    try:
        store = pods.start("redis")
        for probe in PROBES:
            assert pods.probe(store, probe), probe
        # the server runs the manifest's configuration, password included
        port = store.ports["redis"]
        client = redis.Redis(port=port, password=values["REDIS_PASSWORD"])
        config = client.config_get("*")
        assert (config["appendonly"], config["appendfsync"]) == ("yes", "everysec")
        assert config["maxmemory-policy"] == "noeviction"
        assert config["dir"] == str(tmp_path / "redis" / "data")
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).ping()
        client.close()

        gateway_pod = pods.start("redtask-gateway")
        scheduler = pods.start("redtask-scheduler")
        for container in (gateway_pod, scheduler):
            for probe in PROBES:
                assert pods.probe(container, probe), f"{container.name} {probe}"
        gateway = pods.url_for("http://redtask-gateway:8080") + "/engine-rest"

        # auth from the Secret: anonymous callers are refused
        assert httpx.get(f"{gateway}/redtask/topics").status_code == 401
        quiet = trigger_values(pods, objects, keda)
        assert len(quiet) == 6
        assert quiet == backlog(quiet)  # no topic has a row yet: every trigger reads 0

        auth = (user, password)
        with (ROOT / "examples" / "order.bpmn").open("rb") as bpmn:
            files = {"data": ("order.bpmn", bpmn, "application/xml")}
            deployed = httpx.post(f"{gateway}/deployment/create", files=files, auth=auth)
        assert deployed.status_code == 200, deployed.text
        start_order(gateway, auth, "A-1", item="book", quantity=2)
        start_order(gateway, auth, "A-2", item="chair", quantity=1, express=True)
        start_order(gateway, auth, "A-3", item="lamp", quantity=50)
        assert trigger_values(pods, objects, keda) == backlog(quiet, reserve_stock_backlog=3)

        fetch = {
            "workerId": "probe",
            "maxTasks": 1,
            "topics": [{"topicName": "reserve-stock", "lockDuration": 60_000}],
        }
        [task] = httpx.post(f"{gateway}/external-task/fetchAndLock", json=fetch, auth=auth).json()
        expected = backlog(quiet, reserve_stock_backlog=2, reserve_stock_in_flight=1)
        assert trigger_values(pods, objects, keda) == expected
        unlocked = httpx.post(f"{gateway}/external-task/{task['id']}/unlock", auth=auth)
        assert unlocked.status_code == 204

        worker = pods.start("redtask-order-worker")
        for probe in PROBES:
            assert pods.probe(worker, probe), probe
        history = f"{gateway}/history/process-instance?processDefinitionKey=order"

        def finished() -> list[Any]:
            ended = [i for i in httpx.get(history, auth=auth).json() if i["state"] == "COMPLETED"]
            return ended if len(ended) == 3 else []

        deadline = time.monotonic() + 30
        while not finished():
            assert time.monotonic() < deadline, "the orders did not finish"
            time.sleep(0.1)
        assert trigger_values(pods, objects, keda) == backlog(quiet)

        # what Prometheus reads from each process, as the monitors name them
        scraped = scrape(pods, objects)
        assert {name: set(families) for name, families in scraped.items()} == {
            "redtask-gateway": GATEWAY_FAMILIES,
            "redtask-scheduler": SCHEDULER_FAMILIES,
            "redtask-order-worker": WORKER_FAMILIES,
        }
        gateway_metrics = scraped["redtask-gateway"]
        assert sample_values(gateway_metrics["redtask_process_instances_running"]) == {None: 0}
        assert sample_values(gateway_metrics["redtask_incidents_open"]) == {None: 0}
        [passes] = sample_values(scraped["redtask-scheduler"]["redtask_scheduler_passes"]).values()
        assert passes >= 1
        worker_metrics = scraped["redtask-order-worker"]
        assert sample_values(worker_metrics["redtask_worker_tasks_completed"], "topic") == {
            "reserve-stock": 2,
            "ship-express": 1,
            "ship-standard": 1,
        }
        assert sample_values(worker_metrics["redtask_worker_bpmn_errors"], "topic") == {
            "reserve-stock": 1  # 50 lamps, 10 in stock
        }
        assert sample_values(worker_metrics["redtask_worker_tasks_in_flight"]) == {None: 0}
        # every series the alerts and the dashboard query is among what the monitors scrape
        series = {f.name for families in scraped.values() for f in families.values()}
        series |= {
            s.name for families in scraped.values() for f in families.values() for s in f.samples
        }
        assert sorted(used_metrics() - series) == []

        # a rollout: a long poll parked on the gateway answers [] once SIGTERM arrives
        park = {
            **fetch,
            "asyncResponseTimeout": 60_000,
            "topics": [{"topicName": "idle", "lockDuration": 1000}],
        }
        answers: list[httpx.Response] = []
        poll = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    f"{gateway}/external-task/fetchAndLock", json=park, auth=auth, timeout=90
                )
            )
        )
        poll.start()
        time.sleep(0.5)
        assert poll.is_alive() and not answers  # parked, waiting for a task
        assert pods.stop("redtask-gateway") == 0
        poll.join(gateway_pod.grace)
        assert [(a.status_code, a.json()) for a in answers] == [(200, [])]
    finally:
        codes = pods.stop_all()
    assert codes == {
        "redtask-order-worker": 0,
        "redtask-scheduler": 0,
        "redtask-gateway": 0,
        "redis": 0,
    }
