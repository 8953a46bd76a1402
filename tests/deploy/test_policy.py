"""Rules every rendered manifest keeps: hardened, bounded and probed containers, a PDB and a
topology spread per workload, secrets only in Secrets, Redis reachable only from redtask's own
processes, the gateway only from the ingress (and KEDA, and Prometheus), the metrics ports only
from Prometheus, a drain that outlasts a rollout, a worker pod that outlives its grace period,
commands the CLI accepts, and production images from the operator's registry."""

from __future__ import annotations

import re

import pytest

from redtask.broker.redis_url import parse_redis_url
from redtask.broker.settings import Settings
from redtask.cli.main import build_parser
from redtask.cli.worker import load_worker
from tests.deploy.kube import (
    OVERLAYS,
    Obj,
    allowed_ingress,
    containers,
    named,
    of_kind,
    pod_owners,
    pod_spec,
    port_names,
    secret_values,
    selects,
    workloads,
)
from tests.deploy.local_pods import expand

REDIS_URL = "$(REDIS_SCHEME)://$(REDIS_USERNAME):$(REDIS_PASSWORD)@$(REDIS_ADDRESS)/$(REDIS_DB)"
GATEWAY_DRAIN_S = 10  # uvicorn's timeout_graceful_shutdown in redtask/gateway/server.py


def everything(rendered: dict[str, list[Obj]]) -> list[tuple[str, Obj]]:
    return [(name, o) for name, objects in rendered.items() for o in objects]


def is_redtask(container: Obj) -> bool:
    return container["image"].split("/")[-1].startswith("redtask")


def test_every_container_is_hardened_bounded_and_probed(rendered: dict[str, list[Obj]]) -> None:
    seen = 0
    for name, objects in rendered.items():
        for workload in pod_owners(objects):
            where = f"{name} {workload['metadata']['name']}"
            pod = pod_spec(workload)
            assert pod["securityContext"]["runAsNonRoot"] is True, where
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
            assert pod["automountServiceAccountToken"] is False, where
            for container in containers(workload):
                seen += 1
                security = container["securityContext"]
                assert security["allowPrivilegeEscalation"] is False, where
                assert security["readOnlyRootFilesystem"] is True, where
                assert security["runAsNonRoot"] is True, where
                assert security["capabilities"] == {"drop": ["ALL"]}, where
                resources = container["resources"]
                assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
                if workload["kind"] == "Job":
                    # a task that runs to its end, not a server: nothing to probe
                    assert not {"startupProbe", "readinessProbe", "livenessProbe"} & set(container)
                    continue
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    assert probe in container, f"{where}: no {probe}"
                    if is_redtask(container):
                        # a Python start-up per probe is what HTTP probes avoid
                        assert "httpGet" in container[probe], f"{where}: {probe}"
    # gateway, scheduler, worker in all 22 renders; in the 8 with redis-standalone its Redis, in
    # the 5 with redis-sentinel its Redis and sentinel, in the 5 with redis-cluster its Redis and
    # the Job's redis-cli
    assert seen == 3 * 22 + 8 + 2 * 5 + 2 * 5


def test_every_workload_has_a_disruption_budget_and_spreads_over_nodes_and_zones(
    rendered: dict[str, list[Obj]],
) -> None:
    for name, objects in rendered.items():
        budgets = of_kind(objects, "PodDisruptionBudget")
        for workload in workloads(objects):
            labels = workload["spec"]["template"]["metadata"]["labels"]
            matching = [b for b in budgets if selects(b["spec"]["selector"], labels)]
            assert len(matching) == 1, f"{name} {workload['metadata']['name']}"
            if workload["kind"] == "Deployment" or workload["spec"]["replicas"] > 1:
                spread = pod_spec(workload)["topologySpreadConstraints"]
                keys = {c["topologyKey"] for c in spread}
                assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
                assert all(selects(c["labelSelector"], labels) for c in spread)


def test_no_secret_value_sits_in_a_config_map(rendered: dict[str, list[Obj]]) -> None:
    for name, objects in rendered.items():
        [secret] = of_kind(objects, "Secret")
        values = secret_values(secret)
        assert set(values) == {"REDIS_PASSWORD", "AUTH_USERS", "KEDA_USERNAME", "KEDA_PASSWORD"}
        passwords = [values["REDIS_PASSWORD"], values["KEDA_PASSWORD"]]
        passwords += [pair.partition(":")[2] for pair in values["AUTH_USERS"].split(",")]
        for config_map in of_kind(objects, "ConfigMap"):
            for key, text in config_map["data"].items():
                assert not any(p in text for p in passwords), f"{name} {key}"
                assert not re.search("PASSWORD|AUTH_USERS", key), f"{name} {key}"
        # KEDA signs in as one of the gateway's users
        user = f"{values['KEDA_USERNAME']}:{values['KEDA_PASSWORD']}"
        assert user in values["AUTH_USERS"].split(",")


def test_production_secrets_are_not_the_base_s_development_values(
    rendered: dict[str, list[Obj]],
) -> None:
    [dev] = of_kind(rendered["overlays/dev"], "Secret")
    [production] = of_kind(rendered["overlays/production"], "Secret")
    dev_values, production_values = secret_values(dev), secret_values(production)
    assert all(production_values[k] != v for k, v in dev_values.items() if "PASSWORD" in k)


def test_redtask_containers_compose_the_redis_url_from_the_secret_s_password(
    rendered: dict[str, list[Obj]],
) -> None:
    for name, objects in rendered.items():
        [secret] = of_kind(objects, "Secret")
        [config] = [c for c in of_kind(objects, "ConfigMap") if "REDIS_ADDRESS" in c["data"]]
        for workload in workloads(objects):
            for container in filter(is_redtask, containers(workload)):
                env = container["env"]
                assert container["envFrom"] == [
                    {"configMapRef": {"name": config["metadata"]["name"]}}
                ]
                password = env[[e["name"] for e in env].index("REDIS_PASSWORD")]
                ref = password["valueFrom"]["secretKeyRef"]
                assert ref == {"name": secret["metadata"]["name"], "key": "REDIS_PASSWORD"}
                # $(VAR) expands only variables defined before it
                names = [e["name"] for e in env]
                assert names.index("REDIS_PASSWORD") < names.index("REDTASK_REDIS_URL"), name
                assert env[names.index("REDTASK_REDIS_URL")]["value"] == REDIS_URL


def test_redis_admits_redtask_the_gateway_the_ingress_and_keda_the_metrics_ports_prometheus(
    rendered: dict[str, list[Obj]],
) -> None:
    for name, objects in rendered.items():
        deny = named(objects, "NetworkPolicy", "redtask-default-deny")
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
        keda = any(o["kind"] == "ScaledObject" for o in objects)
        prometheus = any(o["kind"] == "PodMonitor" for o in objects)
        redtask = ("redtask-gateway", "redtask-scheduler", "redtask-order-worker")
        expected: dict[str, set[tuple[str, str]]] = {
            "redis": {(source, "redis") for source in redtask},
            # the sentinels too, and the pods among themselves: replication, the sentinels'
            # checks of one another
            "redis-sentinel": {
                *((source, port) for source in redtask for port in ("redis", "sentinel")),
                ("redis-sentinel", "redis"),
                ("redis-sentinel", "sentinel"),
            },
            # the Job that forms the cluster; the nodes among themselves, the bus too
            "redis-cluster": {
                *((source, "redis") for source in redtask),
                ("redis-cluster-init", "redis"),
                ("redis-cluster", "redis"),
                ("redis-cluster", "bus"),
            },
            "redis-cluster-init": set(),
            "redtask-gateway": {("namespace ingress-nginx", "http")},
            "redtask-scheduler": set(),
            "redtask-order-worker": set(),
        }
        if keda:
            expected["redtask-gateway"].add(("namespace keda", "http"))
        if prometheus:
            # the ports its monitors scrape, and no other (not the schedulers' and workers' health)
            expected["redtask-gateway"].add(("namespace monitoring", "http"))
            expected["redtask-scheduler"].add(("namespace monitoring", "metrics"))
            expected["redtask-order-worker"].add(("namespace monitoring", "metrics"))
        allowed = allowed_ingress(objects)
        assert allowed == {w: expected[w] for w in allowed}, name
        assert set(allowed) <= set(expected)


def test_a_gateway_rollout_waits_for_the_long_poll_drain(rendered: dict[str, list[Obj]]) -> None:
    for name, objects in rendered.items():
        gateway = named(objects, "Deployment", "redtask-gateway")
        assert gateway["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        pod = pod_spec(gateway)
        [container] = pod["containers"]
        pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert pre_stop > 0
        assert pod["terminationGracePeriodSeconds"] > pre_stop + GATEWAY_DRAIN_S, name


def test_every_redtask_container_runs_a_command_the_cli_accepts(
    rendered: dict[str, list[Obj]],
) -> None:
    parser = build_parser()
    commands = set()
    for _, workload in everything(rendered):
        if workload["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for container in filter(is_redtask, containers(workload)):
            args = parser.parse_args(container["args"])
            assert callable(args.func)
            commands.add(args.command)
            # every port the container declares is one the process listens on
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            if args.command == "gateway":
                assert ports == {"http": args.port}
            else:
                assert ports == {"health": args.health_port, "metrics": args.metrics_port}
    assert commands == {"gateway", "scheduler", "worker"}


def test_the_worker_pod_outlives_the_worker_s_grace_period_and_its_target_loads(
    rendered: dict[str, list[Obj]],
) -> None:
    for name, objects in rendered.items():
        worker = named(objects, "Deployment", "redtask-order-worker")
        pod = pod_spec(worker)
        args = build_parser().parse_args(pod["containers"][0]["args"])
        assert args.grace < pod["terminationGracePeriodSeconds"], name
        assert load_worker(args.target).specs


def test_keda_scales_on_every_topic_of_the_worker_and_keeps_lock_holders(
    rendered: dict[str, list[Obj]],
) -> None:
    objects = rendered["overlays/production"]
    scaled = named(objects, "ScaledObject", "redtask-order-worker")
    worker = named(objects, "Deployment", "redtask-order-worker")
    assert scaled["spec"]["scaleTargetRef"] == {"name": worker["metadata"]["name"]}
    args = build_parser().parse_args(pod_spec(worker)["containers"][0]["args"])
    topics = set(load_worker(args.target).specs)
    triggers = scaled["spec"]["triggers"]
    assert {t["name"] for t in triggers} == {
        f"{topic}-{kind}" for topic in topics for kind in ("backlog", "in-flight")
    }
    for trigger in triggers:
        assert trigger["type"] == "metrics-api"
        assert trigger["metadata"]["activationTargetValue"] == "0"
        if trigger["name"].endswith("in-flight"):
            # one pod per --concurrency locked tasks
            assert trigger["metadata"]["targetValue"] == str(args.concurrency)
        url = trigger["metadata"]["url"]
        assert url == "http://redtask-gateway.redtask.svc:8080/redtask/topics"
    assert scaled["spec"]["minReplicaCount"] == 0
    assert scaled["spec"]["cooldownPeriod"] >= 60
    down = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
    assert down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 60}]
    auth = named(objects, "TriggerAuthentication", "redtask-gateway")
    [secret] = of_kind(objects, "Secret")
    assert {r["name"] for r in auth["spec"]["secretTargetRef"]} == {secret["metadata"]["name"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_overlay_rewrites_every_image_and_labels_every_object(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    objects = rendered[f"overlays/{overlay}"]
    images = {c["image"] for w in pod_owners(objects) for c in containers(w)}
    overlay = overlay.split("+")[0]
    if overlay == "production":
        assert images == {
            "registry.example.com/redtask:0.1.0",
            "registry.example.com/redtask-order-worker:0.1.0",
            "registry.example.com/mirror/redis:7.4.2",
        }
    else:
        assert images == {"redtask:dev", "redtask-order-worker:dev", "redis:7.4.2"}
    instance = {"dev": "redtask-dev", "production": "redtask"}[overlay]
    for o in objects:
        labels = o["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == instance, o["metadata"]["name"]
        assert labels["app.kubernetes.io/part-of"] == "redtask"
    for workload in pod_owners(objects):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == instance


def test_a_gateway_or_scheduler_waiting_for_redis_at_start_is_not_killed_by_its_startup_probe(
    rendered: dict[str, list[Obj]],
) -> None:
    """They retry an unreachable Redis for REDTASK_REDIS_STARTUP_WAIT_S before they listen; the
    startup probe must give them that long (and a start-up's few seconds) before it kills."""
    wait_s = Settings().redis_startup_wait_s
    checked = 0
    for name, objects in rendered.items():
        for deployment in ("redtask-gateway", "redtask-scheduler"):
            [container] = pod_spec(named(objects, "Deployment", deployment))["containers"]
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            assert "REDTASK_REDIS_STARTUP_WAIT_S" not in env, f"{name} {deployment}"
            probe = container["startupProbe"]
            budget = probe["periodSeconds"] * probe["failureThreshold"]
            assert budget >= wait_s + 15, f"{name} {deployment}: {budget} s"
            checked += 1
    assert checked == 2 * 22


def test_the_production_ingress_routes_the_api_and_the_dashboard_to_the_gateways(
    rendered: dict[str, list[Obj]],
) -> None:
    for name in ("overlays/production", "overlays/production+monitoring"):
        ingress = named(rendered[name], "Ingress", "redtask-gateway")
        [rule] = ingress["spec"]["rules"]
        routes = [
            (p["path"], p["pathType"], p["backend"]["service"]) for p in rule["http"]["paths"]
        ]
        gateway = {"name": "redtask-gateway", "port": {"name": "http"}}
        assert routes == [
            ("/engine-rest", "Prefix", gateway),
            ("/redtask/ui", "Prefix", gateway),
        ], name


def redis_settings(text: str) -> dict[str, str]:
    """A redis.conf's directives: name -> the rest of its line."""
    lines = [line.split(None, 1) for line in text.splitlines() if line and line[0] != "#"]
    return {words[0]: words[1] if len(words) > 1 else "" for words in lines}


def test_sentinel_and_cluster_point_redtask_at_their_own_pods(
    rendered: dict[str, list[Obj]],
) -> None:
    """The URL the redtask containers compose names the StatefulSet's pods by their names under
    its headless Service, on the ports the pods declare, with the Secret's password; the
    sentinels watch the master the URL names; the cluster has as many pods as the Job's
    --cluster-replicas asks for and a partition count that is a multiple of its masters."""
    checked = {"redis-sentinel": 0, "redis-cluster": 0}
    for name, objects in rendered.items():
        for kind in checked:
            if not any(s["metadata"]["name"] == kind for s in of_kind(objects, "StatefulSet")):
                continue
            checked[kind] += 1
            stateful = named(objects, "StatefulSet", kind)
            [secret] = of_kind(objects, "Secret")
            [config] = [c for c in of_kind(objects, "ConfigMap") if "REDIS_ADDRESS" in c["data"]]
            env = {**config["data"], "REDIS_PASSWORD": secret_values(secret)["REDIS_PASSWORD"]}
            target = parse_redis_url(expand(REDIS_URL, env))
            service = named(objects, "Service", stateful["spec"]["serviceName"])
            assert service["spec"]["clusterIP"] == "None"
            assert service["spec"]["publishNotReadyAddresses"] is True
            assert service["spec"]["selector"] == stateful["spec"]["selector"]["matchLabels"]
            replicas = stateful["spec"]["replicas"]
            pods = [f"{kind}-{i}.{service['metadata']['name']}" for i in range(replicas)]
            ports = port_names(stateful)
            assert target.password == env["REDIS_PASSWORD"]
            assert target.username == "default"
            [files] = [
                c["data"] for c in of_kind(objects, "ConfigMap") if "redis.conf" in c["data"]
            ]
            conf = redis_settings(files["redis.conf"])
            assert (conf["appendonly"], conf["appendfsync"]) == ("yes", "everysec"), name
            assert conf["maxmemory-policy"] == "noeviction"
            [redis] = [c for c in pod_spec(stateful)["containers"] if c["name"] == "redis"]
            if kind == "redis-sentinel":
                assert (target.mode, replicas) == ("sentinel", 3)
                assert list(target.hosts) == [(pod, ports["sentinel"]) for pod in pods]
                [monitor] = [
                    line.split()[2:]
                    for line in files["sentinel.conf"].splitlines()
                    if line.startswith("sentinel monitor ")
                ]
                service_name, host, port, quorum = monitor
                assert service_name == target.service == "mymaster"
                assert (host, port) == ("MASTER_HOST", "MASTER_PORT")  # filled in at start
                assert int(quorum) == replicas // 2 + 1
                values = {e["name"]: e.get("value") for e in redis["env"]}
                assert values["INITIAL_MASTER"] == f"{pods[0]}:{ports['redis']}"
                assert values["SENTINELS"].split() == [f"{h}:{p}" for h, p in target.hosts]
                script = redis["args"][0]
                assert '--requirepass "$REDIS_PASSWORD"' in script
                assert '--masterauth "$REDIS_PASSWORD"' in script
            else:
                assert target.mode == "cluster"
                assert list(target.hosts) == [(pod, ports["redis"]) for pod in pods]
                assert ports["bus"] == ports["redis"] + 10000
                assert conf["cluster-enabled"] == "yes"
                data = next(m for m in redis["volumeMounts"] if m["name"] == "data")
                assert conf["cluster-config-file"].startswith(data["mountPath"] + "/")
                job = named(objects, "Job", "redis-cluster-init")
                [create] = pod_spec(job)["containers"]
                values = {e["name"]: e.get("value") for e in create["env"]}
                assert values["NODES"].split() == [f"{h}:{p}" for h, p in target.hosts]
                [per_master] = re.findall(r"--cluster-replicas (\d+)", create["args"][0])
                masters = replicas // (1 + int(per_master))
                assert masters == 3 and replicas == masters * (1 + int(per_master))
                partitions = int(config["data"]["REDTASK_PARTITIONS"])
                assert partitions % masters == 0 and partitions // masters >= 2
                assert redis["args"][1:5] == [
                    *("--requirepass", "$(REDIS_PASSWORD)"),
                    *("--masterauth", "$(REDIS_PASSWORD)"),
                ]
    assert checked == {"redis-sentinel": 5, "redis-cluster": 5}
