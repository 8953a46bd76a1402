"""What the Prometheus Operator makes of deploy/'s monitors: their scrape targets, resolved from
the rendered objects the way the Operator resolves them. kubernetes-validate has no schema for
the monitoring.coreos.com kinds; this is their structural check."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.deploy.kube import Obj, of_kind, port_names, selects, workloads

# A Prometheus duration, as the CRDs' schemas constrain every interval and `for`
DURATION = re.compile(
    r"(0|([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)"
)
# The fields of the CRDs' schemas (monitoring.coreos.com/v1) a monitor here may use: a misspelt
# one would be dropped by the API server's pruning, silently
SPEC_FIELDS = {
    "ServiceMonitor": {"selector", "endpoints", "jobLabel", "targetLabels", "podTargetLabels"},
    "PodMonitor": {"selector", "podMetricsEndpoints", "jobLabel", "podTargetLabels"},
}
ENDPOINT_FIELDS = {"port", "path", "interval", "scrapeTimeout", "honorLabels", "scheme"}
ENDPOINT_FIELDS |= {"relabelings", "metricRelabelings"}


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
    as does a monitor that selects nothing, a field outside SPEC_FIELDS and ENDPOINT_FIELDS, or a
    duration Prometheus would not parse."""
    found = []
    for monitor in of_kind(objects, "ServiceMonitor", "PodMonitor"):
        kind, name = monitor["kind"], monitor["metadata"]["name"]
        where = f"{kind}/{name}"
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1", where
        assert set(monitor["spec"]) <= SPEC_FIELDS[kind], where  # no namespaceSelector either
        endpoints = monitor["spec"][
            "endpoints" if kind == "ServiceMonitor" else "podMetricsEndpoints"
        ]
        for endpoint in endpoints:
            assert set(endpoint) <= ENDPOINT_FIELDS, where
            for duration in ("interval", "scrapeTimeout"):
                assert DURATION.fullmatch(endpoint.get(duration, "0")), f"{where} {duration}"
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
                for endpoint in endpoints:
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
            for endpoint in endpoints:
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
