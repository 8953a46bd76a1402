"""The production overlay with components/redis-sentinel, and with components/redis-cluster, in
place of redis-standalone, run as local processes (tests/deploy/local_pods.py): every container
of every pod of the Redis StatefulSet from its own command, args, env and configuration (for the
cluster, then the Job's own script, which forms it), then the gateway, the scheduler and the
order worker with the URL the manifests compose; orders go through the example process and the
data lands where the topology puts it. Then a master's Redis is killed: a replica takes over, an
order still goes through, and the killed pod, restarted from its own script or configuration,
rejoins as a replica."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from redtask.testing.servers import cluster_masters
from tests.deploy.kube import ROOT, Obj, of_kind, secret_values
from tests.deploy.local_pods import LocalPods
from tests.deploy.test_manifest_run import PROBES, start_order


def wait_for(condition: Callable[[], Any], within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        try:
            result = condition()
        except redis.RedisError:
            result = None
        if result:
            return result
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def cluster_info(node: redis.Redis) -> dict[str, str]:
    text = node.execute_command("CLUSTER", "INFO")
    return dict(line.split(":", 1) for line in str(text).splitlines() if ":" in line)


def orders_go_through(pods: LocalPods, objects: list[Obj]) -> str:
    """The gateway, the scheduler and the order worker started and probed; three orders
    through the example process. The URL the containers run with."""
    [secret] = of_kind(objects, "Secret")
    user, _, password = secret_values(secret)["AUTH_USERS"].split(",")[1].partition(":")
    auth = (user, password)
    for name in ("redtask-gateway", "redtask-scheduler", "redtask-order-worker"):
        container = pods.start(name)
        for probe in PROBES:
            assert pods.probe(container, probe), f"{name} {probe}"
    redtask = [c for c in pods.containers.values() if c.name.startswith("redtask-")]
    urls = {c.env["REDTASK_REDIS_URL"] for c in redtask}
    [url] = urls  # one URL for every redtask process
    gateway = pods.url_for("http://redtask-gateway:8080") + "/engine-rest"
    with (ROOT / "examples" / "order.bpmn").open("rb") as bpmn:
        files = {"data": ("order.bpmn", bpmn, "application/xml")}
        deployed = httpx.post(f"{gateway}/deployment/create", files=files, auth=auth)
    assert deployed.status_code == 200, deployed.text
    start_order(gateway, auth, "A-1", item="book", quantity=2)
    start_order(gateway, auth, "A-2", item="chair", quantity=1, express=True)
    start_order(gateway, auth, "A-3", item="lamp", quantity=50)
    history = f"{gateway}/history/process-instance?processDefinitionKey=order"

    def finished() -> bool:
        instances = httpx.get(history, auth=auth).json()
        return sorted(i["state"] for i in instances) == ["COMPLETED"] * 3

    wait_for(finished, 30, "the orders did not finish")
    return url


def an_order_completes(pods: LocalPods, objects: list[Obj], key: str, within: float) -> None:
    """One more order, started (again while the gateway answers 503) and completed."""
    [secret] = of_kind(objects, "Secret")
    user, _, password = secret_values(secret)["AUTH_USERS"].split(",")[1].partition(":")
    auth = (user, password)
    gateway = pods.url_for("http://redtask-gateway:8080") + "/engine-rest"
    deadline = time.monotonic() + within
    body = {"businessKey": key, "variables": {"item": {"value": "book", "type": "String"}}}
    body["variables"]["quantity"] = {"value": 1, "type": "Integer"}
    start = f"{gateway}/process-definition/key/order/start"
    while (started := httpx.post(start, json=body, auth=auth, timeout=10)).status_code != 200:
        assert started.status_code == 503, started.text
        assert time.monotonic() < deadline, "the order was never started"
        time.sleep(0.2)
    instance = f"{gateway}/history/process-instance/{started.json()['id']}"
    wait_for(
        lambda: httpx.get(instance, auth=auth).json().get("state") == "COMPLETED",
        max(deadline - time.monotonic(), 1),
        "the order did not finish",
    )


@pytest.mark.slow
def test_production_with_redis_sentinel_runs_as_written(
    rendered: dict[str, list[Obj]], tmp_path: Path
) -> None:
    objects = rendered["overlays/production+redis-sentinel"]
    [secret] = of_kind(objects, "Secret")
    password = secret_values(secret)["REDIS_PASSWORD"]
    pods = LocalPods(objects, tmp_path)
    try:
        for ordinal in range(3):
            store = pods.start("redis-sentinel", ordinal, "redis")
            for probe in PROBES:
                assert pods.probe(store, probe), probe
        port = [pods.local_ports[(f"redis-sentinel-{i}", 6379)] for i in range(3)]
        sentinel_port = [pods.local_ports[(f"redis-sentinel-{i}", 26379)] for i in range(3)]
        nodes = [redis.Redis(port=p, password=password, decode_responses=True) for p in port]
        # pod 0 is the first master, the others replicate it
        for node in nodes[1:]:
            wait_for(
                lambda node=node: node.info("replication")["master_link_status"] == "up",
                15,
                "a replica did not sync",
            )
            assert node.info("replication")["master_port"] == port[0]
        assert nodes[0].info("replication")["role"] == "master"
        assert nodes[0].info("replication")["connected_slaves"] == 2
        config = nodes[0].config_get("*")
        assert (config["appendonly"], config["appendfsync"]) == ("yes", "everysec")
        assert config["maxmemory-policy"] == "noeviction"
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port[0]).ping()

        for ordinal in range(3):
            sentinel = pods.start("redis-sentinel", ordinal, "sentinel")
            for probe in PROBES:
                assert pods.probe(sentinel, probe), probe
        # each sentinel names pod 0 the master, knows its two replicas and the other sentinels
        # (they find one another through the master), all without credentials
        for sentinel_port_ in sentinel_port:
            watcher = redis.Redis(port=sentinel_port_, decode_responses=True)

            def agreed(watcher: redis.Redis = watcher) -> bool:
                [master] = watcher.sentinel_masters().values()
                return (master["port"], master["num-slaves"], master["num-other-sentinels"]) == (
                    port[0],
                    2,
                    2,
                )

            wait_for(agreed, 20, "the sentinels did not agree")
            assert watcher.sentinel_get_master_addr_by_name("mymaster") == ("127.0.0.1", port[0])
            watcher.close()
        hosts = ",".join(f"127.0.0.1:{p}" for p in sentinel_port)
        url = orders_go_through(pods, objects)
        assert url == f"redis+sentinel://default:{password}@{hosts}/mymaster/0"
        # written on the master, replicated to both replicas
        keys = nodes[0].dbsize()
        assert keys > 0
        for node in nodes[1:]:
            wait_for(lambda node=node: node.dbsize() == keys, 10, "a replica lags")

        # the master's Redis is killed: the sentinels promote a replica, redtask follows them to
        # it, and pod 0's Redis, restarted, asks the sentinels and rejoins as its replica
        killed = pods.containers["redis-sentinel-0/redis"]
        assert killed.process is not None
        killed.process.kill()
        killed.process.wait()
        watcher = redis.Redis(port=sentinel_port[0], decode_responses=True)

        def promoted() -> int:
            _, master_port = watcher.sentinel_get_master_addr_by_name("mymaster")
            return int(master_port) if master_port != port[0] else 0

        new_master = wait_for(promoted, 30, "the sentinels did not fail over")
        assert new_master in port[1:]
        an_order_completes(pods, objects, "B-1", within=30)
        pods.start("redis-sentinel", 0, "redis")
        wait_for(
            lambda: nodes[0].info("replication").get("master_link_status") == "up",
            15,
            "pod 0 did not rejoin",
        )
        assert nodes[0].info("replication")["master_port"] == new_master
        watcher.close()
        for node in nodes:
            node.close()
    finally:
        codes = pods.stop_all()
    assert codes == {
        **{f"redtask-{n}": 0 for n in ("order-worker", "scheduler", "gateway")},
        **{f"redis-sentinel-{i}/{c}": 0 for i in range(3) for c in ("redis", "sentinel")},
    }


@pytest.mark.slow
def test_production_with_redis_cluster_runs_as_written(
    rendered: dict[str, list[Obj]], tmp_path: Path
) -> None:
    objects = rendered["overlays/production+redis-cluster"]
    [secret] = of_kind(objects, "Secret")
    password = secret_values(secret)["REDIS_PASSWORD"]
    pods = LocalPods(objects, tmp_path)
    try:
        for ordinal in range(6):
            node = pods.start("redis-cluster", ordinal)
            for probe in PROBES:
                assert pods.probe(node, probe), probe
        port = [pods.local_ports[(f"redis-cluster-{i}", 6379)] for i in range(6)]
        seeds = ",".join(f"127.0.0.1:{p}" for p in port)
        first = redis.Redis(port=port[0], password=password, decode_responses=True)
        config = first.config_get("*")
        assert (config["appendonly"], config["appendfsync"]) == ("yes", "everysec")
        assert config["maxmemory-policy"] == "noeviction"
        assert config["cluster-announce-ip"] == "127.0.0.1"  # the pod's IP
        assert cluster_info(first)["cluster_slots_assigned"] == "0"

        code, output = pods.run_job("redis-cluster-init", within=60)
        assert code == 0, output
        assert "[OK] All 16384 slots covered." in output
        # run again (a re-applied Job): it finds the cluster formed and leaves it be
        code, output = pods.run_job("redis-cluster-init", within=60)
        assert code == 0, output
        assert output.splitlines()[-1] == "the cluster is formed already (16384 slots assigned)"

        local = f"redis+cluster://default:{password}@{seeds}"

        def formed() -> bool:
            nodes = [redis.Redis(port=p, password=password, decode_responses=True) for p in port]
            infos = [cluster_info(n) for n in nodes]
            roles = sorted(n.info("replication")["role"] for n in nodes)
            for n in nodes:
                n.close()
            ok = all(i["cluster_state"] == "ok" for i in infos)
            return ok and roles == ["master"] * 3 + ["slave"] * 3

        wait_for(formed, 20, "the cluster did not form")
        masters = cluster_masters(local)
        assert len(masters) == 3
        assert sum(end - start + 1 for ranges in masters.values() for start, end in ranges) == 16384

        url = orders_go_through(pods, objects)
        assert url == f"{local}/"  # REDIS_DB is empty: no database in a cluster URL
        # 12 partitions: every master holds some of the broker's keys
        for host, master_port in masters:
            with redis.Redis(host=host, port=master_port, password=password) as client:
                assert client.dbsize() > 0, master_port

        # a master's Redis is killed: its replica takes over, redtask follows, and the pod,
        # restarted, rejoins from the nodes.conf on its claim as the same node, now a replica
        [(_, victim_port), *_] = sorted(masters)
        victim = port.index(victim_port)
        node = redis.Redis(port=victim_port, password=password, decode_responses=True)
        node_id = node.execute_command("CLUSTER", "MYID")
        killed = pods.containers[f"redis-cluster-{victim}"]
        assert killed.process is not None
        killed.process.kill()
        killed.process.wait()

        def failed_over() -> bool:
            now = cluster_masters(local)
            covered = sum(end - start + 1 for ranges in now.values() for start, end in ranges)
            return len(now) == 3 and victim_port not in {p for _, p in now} and covered == 16384

        wait_for(failed_over, 30, "the replica did not take over")
        an_order_completes(pods, objects, "B-1", within=30)
        pods.start("redis-cluster", victim)
        wait_for(
            lambda: node.info("replication").get("master_link_status") == "up",
            20,
            "the restarted node did not rejoin",
        )
        assert node.execute_command("CLUSTER", "MYID") == node_id
        assert node.info("replication")["role"] == "slave"
        node.close()
        first.close()
    finally:
        codes = pods.stop_all()
    assert codes == {
        **{f"redtask-{n}": 0 for n in ("order-worker", "scheduler", "gateway")},
        **{f"redis-cluster-{i}": 0 for i in range(6)},
    }
