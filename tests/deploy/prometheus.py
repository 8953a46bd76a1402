"""What the Prometheus Operator makes of deploy/'s monitors: their scrape targets, resolved from
the rendered objects the way the Operator resolves them. kubernetes-validate has no schema for
the monitoring.coreos.com kinds; this is their structural check."""

from __future__ import annotations

from dataclasses import dataclass

from tests.deploy.kube import Obj, of_kind, port_names, selects, workloads


@dataclass(frozen=True)
class Target:
    monitor: str  # "ServiceMonitor/redtask-gateway"
    workload: str
    port: str  # the container port's name
    number: int  # and its number
    path: str
    interval: str


def _pods(objects: list[Obj], selector: Obj, namespace: str) -> list[Obj]:
    return [
        w
        for w in workloads(objects)
        if w["metadata"].get("namespace") == namespace
        and selects(selector, w["spec"]["template"]["metadata"]["labels"])
    ]


def targets(objects: list[Obj]) -> list[Target]:
    """Every monitor's targets. Without a namespaceSelector a monitor selects in its own
    namespace. A ServiceMonitor's selector picks Services by their labels; an endpoint's port
    names a port of the Service, whose targetPort is a container port (by name or number) of the
    pods the Service selects. A PodMonitor's selector picks pods; an endpoint's port names a
    container port of theirs. The Operator skips a pod without the port silently: here it fails,
    as does a monitor that selects nothing."""
    found = []
    for monitor in of_kind(objects, "ServiceMonitor", "PodMonitor"):
        kind, name = monitor["kind"], monitor["metadata"]["name"]
        where = f"{kind}/{name}"
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1", where
        assert "namespaceSelector" not in monitor["spec"], where
        namespace = monitor["metadata"].get("namespace")
        selector = monitor["spec"]["selector"]
        if kind == "ServiceMonitor":
            services = [
                s
                for s in of_kind(objects, "Service")
                if s["metadata"].get("namespace") == namespace
                and selects(selector, s["metadata"].get("labels", {}))
            ]
            assert services, f"{where} selects no Service"
            for service in services:
                pods = _pods(objects, {"matchLabels": service["spec"]["selector"]}, namespace)
                assert pods, f"{where}: Service {service['metadata']['name']} selects no pod"
                ports = {p["name"]: p for p in service["spec"]["ports"]}
                for endpoint in monitor["spec"]["endpoints"]:
                    assert endpoint["port"] in ports, f"{where}: no Service port {endpoint['port']}"
                    wanted = ports[endpoint["port"]].get(
                        "targetPort", ports[endpoint["port"]]["port"]
                    )
                    for pod in pods:
                        named = port_names(pod)
                        [port] = [n for n, number in named.items() if wanted in (n, number)]
                        found.append(_target(where, pod, port, named[port], endpoint))
        else:
            pods = _pods(objects, selector, namespace)
            assert pods, f"{where} selects no pod"
            for endpoint in monitor["spec"]["podMetricsEndpoints"]:
                for pod in pods:
                    named = port_names(pod)
                    pod_name = pod["metadata"]["name"]
                    assert endpoint["port"] in named, (
                        f"{where}: {pod_name} has no port {endpoint['port']}"
                    )
                    found.append(
                        _target(where, pod, endpoint["port"], named[endpoint["port"]], endpoint)
                    )
    return found


def _target(monitor: str, pod: Obj, port: str, number: int, endpoint: Obj) -> Target:
    path, interval = endpoint.get("path", "/metrics"), endpoint.get("interval", "")
    return Target(monitor, pod["metadata"]["name"], port, number, path, interval)
