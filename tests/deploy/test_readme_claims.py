"""What README.md's "Run on Kubernetes" says of deploy/ is what the manifests do: the managed
Redis overlay renders as written, the monitoring line and patch do what it says, and the numbers
it quotes are the manifests' numbers."""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import yaml

from redtask.cli.main import build_parser
from tests.deploy.kube import (
    MONITORING_LINE,
    ROOT,
    Obj,
    allowed_ingress,
    containers,
    kustomize,
    named,
    of_kind,
    pod_spec,
    secret_values,
    workloads,
)
from tests.deploy.prometheus import targets

SECTION = (ROOT / "README.md").read_text().split("## Run on Kubernetes\n")[1]


def test_the_managed_redis_overlay_renders_without_redis_and_points_at_the_server(
    deploy_tree: Path,
) -> None:
    [block] = re.findall(r"### A managed Redis\n.*?```yaml\n(.*?)```", SECTION, re.S)
    overlay = deploy_tree / "overlays" / "managed"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(block)
    shutil.copy(deploy_tree / "overlays" / "production" / "secrets.env", overlay)
    result = kustomize(overlay)
    assert result.returncode == 0, result.stderr
    objects = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert of_kind(objects, "StatefulSet") == []
    [config] = of_kind(objects, "ConfigMap")
    assert config["data"]["REDIS_SCHEME"] == "rediss"
    assert config["data"]["REDIS_ADDRESS"] == "my-redis.example.com:6380"
    assert config["data"]["REDIS_USERNAME"] == "default"  # the base's values stay
    [secret] = of_kind(objects, "Secret")
    assert secret_values(secret)["REDIS_PASSWORD"] == "replace-me"  # from its secrets.env
    for workload in workloads(objects):
        for container in containers(workload):
            [ref] = container["envFrom"]
            assert ref["configMapRef"]["name"] == config["metadata"]["name"]


def test_the_quoted_numbers_are_the_manifests(rendered: dict[str, list[Obj]]) -> None:
    production, dev = rendered["overlays/production"], rendered["overlays/dev"]
    for objects, least in ((rendered["combinations/base"], 2), (production, 3)):
        hpa = named(objects, "HorizontalPodAutoscaler", "redtask-gateway")["spec"]
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (least, 10)
        [metric] = hpa["metrics"]
        assert metric["resource"] == {
            "name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 70},
        }
        down = hpa["behavior"]["scaleDown"]
        assert down["stabilizationWindowSeconds"] == 300
        assert down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 60}]
    assert "3 to 10 in production" in SECTION and "2 to 10 replicas" in SECTION

    scaled = named(production, "ScaledObject", "redtask-order-worker")["spec"]
    assert (scaled["pollingInterval"], scaled["cooldownPeriod"]) == (15, 300)
    assert scaled["maxReplicaCount"] == 20
    assert (
        scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"][
            "stabilizationWindowSeconds"
        ]
        == 300
    )
    targets = {t["name"].split("-")[-1]: t["metadata"]["targetValue"] for t in scaled["triggers"]}
    assert targets == {"backlog": "32", "flight": "16"}
    trigger = next(t for t in scaled["triggers"] if t["name"] == "reserve-stock-backlog")
    assert f"`{trigger['metadata']['valueLocation']}`" in SECTION

    gateway = pod_spec(named(production, "Deployment", "redtask-gateway"))
    assert gateway["containers"][0]["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}
    assert gateway["terminationGracePeriodSeconds"] == 30
    server = (ROOT / "gateway" / "server.py").read_text()
    assert "timeout_graceful_shutdown=10," in server  # "within 10 s"

    worker = pod_spec(named(production, "Deployment", "redtask-order-worker"))
    args = build_parser().parse_args(worker["containers"][0]["args"])
    assert (args.grace, worker["terminationGracePeriodSeconds"]) == (45, 60)
    assert args.concurrency == 16

    redis = named(production, "StatefulSet", "redis")
    assert pod_spec(redis)["terminationGracePeriodSeconds"] == 60
    assert named(production, "PodDisruptionBudget", "redis")["spec"]["maxUnavailable"] == 0
    [store] = pod_spec(redis)["containers"]
    startup = store["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] == 600  # "up to 10 minutes"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert "redis-cli -p 6379 ping" in store[probe]["exec"]["command"][-1]
    conf = named(
        production,
        "ConfigMap",
        next(
            c["metadata"]["name"]
            for c in of_kind(production, "ConfigMap")
            if "redis.conf" in c["data"]
        ),
    )["data"]["redis.conf"]
    settings = dict(
        line.split(" ", 1) for line in conf.splitlines() if line and not line.startswith("#")
    )
    assert settings["appendonly"] == "yes" and settings["appendfsync"] == "everysec"
    assert settings["save"] == '""' and settings["maxmemory-policy"] == "noeviction"
    assert int(settings["maxmemory"].removesuffix("mb")) * 2**20 < 2**30  # the 1Gi limit
    assert store["resources"]["limits"]["memory"] == "1Gi"

    # one of each in dev; the autoscalers own the gateway and worker counts (no replicas field)
    counts = {w["metadata"]["name"]: w["spec"].get("replicas") for w in workloads(dev)}
    assert counts == {
        "redtask-gateway": None,
        "redtask-scheduler": 1,
        "redtask-order-worker": None,
        "redis": 1,
    }
    assert named(dev, "HorizontalPodAutoscaler", "redtask-gateway")["spec"]["minReplicas"] == 1
    assert "replicas" not in named(production, "Deployment", "redtask-gateway")["spec"]
    assert "replicas" not in named(production, "Deployment", "redtask-order-worker")["spec"]

    for objects in (dev, production):
        [namespace] = of_kind(objects, "Namespace")
        labels = namespace["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        for kind in ("ConfigMap", "Secret"):
            # generated: a hash in the name, so a changed value rolls the pods
            names = [o["metadata"]["name"] for o in of_kind(objects, kind)]
            assert all(re.fullmatch(r"[a-z-]+-[a-z0-9]{10}", n) for n in names), names
        for workload in workloads(objects):
            for container in containers(workload):
                if container["name"] != "redis":
                    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
                    volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
                    assert "emptyDir" in volumes[mounts["/tmp"]]

    ingress = named(production, "Ingress", "redtask-gateway")["metadata"]["annotations"]
    assert int(ingress["nginx.ingress.kubernetes.io/proxy-read-timeout"]) > 30 * 60


def test_the_monitoring_section_s_line_adds_the_component_and_its_patch_moves_prometheus(
    deploy_tree: Path, rendered: dict[str, list[Obj]]
) -> None:
    section = SECTION.split("### Monitoring\n")[1].split("\n### ")[0]
    [line, patch] = re.findall(r"```yaml\n(.*?)```", section, re.S)
    # the line each overlay carries commented out, which the renders uncomment
    assert line == MONITORING_LINE.replace("# ", "")
    assert "every 30 s" in section and "`http` port (8080" in section and "port (9090" in section
    for target in targets(rendered["overlays/production+monitoring"]):
        assert (target.interval, target.path) == ("30s", "/metrics")
        assert (target.port, target.number) in {("http", 8080), ("metrics", 9090)}

    overlay = deploy_tree / "overlays" / "observability"
    shutil.copytree(deploy_tree / "overlays" / "production+monitoring", overlay)
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    kustomization["patches"] += yaml.safe_load(textwrap.dedent(patch))["patches"]
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    result = kustomize(overlay)
    assert result.returncode == 0, result.stderr
    allowed = allowed_ingress([d for d in yaml.safe_load_all(result.stdout) if d])
    assert allowed["redtask-scheduler"] == {("namespace observability", "metrics")}
    assert allowed["redtask-order-worker"] == {("namespace observability", "metrics")}
    assert allowed["redtask-gateway"] == {
        ("namespace ingress-nginx", "http"),
        ("namespace keda", "http"),
        ("namespace observability", "http"),
    }


def test_what_it_says_of_sentinel_and_cluster_is_what_they_render(
    rendered: dict[str, list[Obj]],
) -> None:
    """The URLs, numbers and settings README quotes for components/redis-sentinel and
    redis-cluster are the rendered ones; the figures it quotes for the choice are
    docs/benchmarks.md's."""
    from tests.deploy.local_pods import expand
    from tests.deploy.test_policy import REDIS_URL, redis_settings

    text = " ".join(SECTION.split())
    for component, port in (("redis-sentinel", 26379), ("redis-cluster", 6379)):
        objects = rendered[f"overlays/production+{component}"]
        [config] = [c for c in of_kind(objects, "ConfigMap") if "REDIS_ADDRESS" in c["data"]]
        url = expand(REDIS_URL, {**config["data"], "REDIS_PASSWORD": "PASSWORD"})
        if component == "redis-cluster":
            # quoted with the middle nodes elided
            first, *_, last = config["data"]["REDIS_ADDRESS"].split(",")
            assert url == f"redis+cluster://default:PASSWORD@{config['data']['REDIS_ADDRESS']}/"
            url = f"redis+cluster://default:PASSWORD@{first},…,{last}/"
            assert config["data"]["REDTASK_PARTITIONS"] == "12"
            assert "`REDTASK_PARTITIONS` is 12" in text
        assert f"`{url}`" in text, url
        assert f":{port}" in url
        [files] = [c["data"] for c in of_kind(objects, "ConfigMap") if "redis.conf" in c["data"]]
        conf = redis_settings(files["redis.conf"])
        assert conf["maxmemory"] == "640mb" and "`maxmemory 640mb`" in text
        stateful = named(objects, "StatefulSet", component)
        [redis] = [c for c in pod_spec(stateful)["containers"] if c["name"] == "redis"]
        assert redis["resources"]["limits"]["memory"] == "1Gi" and "1 GiB limit" in text
        claim = stateful["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]
        assert claim == {"storage": "10Gi"} and "a 10 GiB claim per pod" in text
        budget = named(objects, "PodDisruptionBudget", component)["spec"]
        assert budget["maxUnavailable"] == 1 and "allow one pod down at a time" in text
        if component == "redis-sentinel":
            assert "(`down-after-milliseconds` 5000)" in text
            assert "sentinel down-after-milliseconds mymaster 5000" in files["sentinel.conf"]
            assert stateful["spec"]["replicas"] == 3
        else:
            assert conf["cluster-node-timeout"] == "5000"
            assert "`cluster-node-timeout` 5000" in text
            assert stateful["spec"]["replicas"] == 6

    readme = " ".join((ROOT / "README.md").read_text().split())
    benchmarks = (ROOT / "docs" / "benchmarks.md").read_text()
    failover = re.findall(
        r"^\| (Sentinel|Cluster) \(.*?\) \| (\S+) s \| (\S+) s \| (\d+) \|$", benchmarks, re.M
    )
    assert failover == [("Sentinel", "2.5", "2.5", "66"), ("Cluster", "4.2", "4.4", "3")]
    assert (
        "Sentinel promoted the replica in 2.5 s and went 2.5 s without an acknowledged request "
        "(66 requests refused with 503;" in readme
    )
    assert "the cluster promoted in 4.2 s and went 4.4 s without one (3 refused)" in readme
    assert "down-after 1 s" in benchmarks and "node timeout 2 s" in benchmarks
    ratios = dict(re.findall(r"^\| (\(\w\) [^|]*?) \| ([\d.]+) \|", benchmarks, re.M))
    assert ratios["(a) cluster, 3 masters / one Redis"] == "1.13"
    assert ratios["(b) cluster, 3 masters / one Redis"] == "0.91"
    assert ratios["(c) 2 masters / 1 master"] == "0.96"
    assert ratios["(c) 3 masters / 1 master"] == "1.08"
    assert ratios["(d) WAIT_REPLICAS=1 / WAIT_REPLICAS=0"] == "0.74"
    assert (
        "a cluster of 3 masters ran at 1.13 times one Redis going straight to Redis and 0.91 "
        "times over REST (medians of 5 rounds), and 1, 2 and 3 masters within 0.96 and 1.08"
    ) in readme
    assert "`REDTASK_WAIT_REPLICAS=1` cost about a quarter (0.74)" in readme
