"""Rendered workloads run as local processes, the way the kubelet would run their containers.

Each container's command and args (or its image's ENTRYPOINT and CMD, read from deploy/'s
Dockerfiles), its environment (the image's ENV, envFrom, then env in order with ``$(VAR)``
expansion, Secret values decoded) and its volumes (ConfigMap files, emptyDirs and claims as
folders) become a process on this machine, one per pod of a StatefulSet and container of a pod.
What cannot be the same here is mapped: each container port of each pod to a free local port,
each Service host (``redis:6379``, ``redtask-gateway.NS.svc:8080``) and each StatefulSet pod's
host under its Service (``redis-cluster-1.redis-cluster:6379``, alone: ``127.0.0.1``) to
``127.0.0.1`` and that port, each mount path to a folder, ``0.0.0.0`` to ``127.0.0.1``, the pod's
IP (``status.podIP``) to ``127.0.0.1``. Probes run as the kubelet runs them; a Job's container
runs to its end.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from redtask.broker.embedded import find_server_binary
from redtask.testing.servers import cluster_port
from tests.deploy.kube import BIN, DEPLOY, ROOT, Obj, of_kind, pod_spec, secret_values, selects

# where the images keep what this machine has at ROOT (the worker image's /app/examples)
IMAGE_PATHS = {"/app": ROOT}
DOCKERFILES = {
    "redtask": DEPLOY / "Dockerfile",
    "redtask-order-worker": DEPLOY / "worker" / "Dockerfile",
}


@dataclass
class Image:
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


def image_config(dockerfile: Path) -> Image:
    """ENTRYPOINT, CMD and ENV of the last stage, on top of the stage it builds FROM when that
    is another of deploy/'s images."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    stage = text.split("\nFROM ")[-1]
    parent = stage.split("\n", 1)[0].split()[0]
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.M))
    parent = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], parent)
    name = parent.split(":")[0]
    image = image_config(DOCKERFILES[name]) if name in DOCKERFILES else Image()
    for line in stage.splitlines():
        word, _, rest = line.partition(" ")
        if word == "ENTRYPOINT":
            image.entrypoint = json.loads(rest)
        elif word == "CMD":
            image.cmd = json.loads(rest)
        elif word == "ENV":
            image.env.update(dict(pair.split("=", 1) for pair in shlex.split(rest)))
    return image


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: defined variables replaced, $$ an escaped $, anything
    else left as written."""
    return re.sub(
        r"\$\$|\$\((\w+)\)",
        lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
        text,
    )


@dataclass
class Container:
    workload: Obj
    spec: Obj
    env: dict[str, str]
    argv: list[str]
    ports: dict[str, int]  # port name or number (as text) -> local port
    grace: float
    localize: Callable[[str], str]  # a string of the container's as meant on this machine
    key: str  # the pod's name, and "/CONTAINER" after it in a pod of several
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None

    @property
    def name(self) -> str:
        return self.key


class LocalPods:
    def __init__(self, objects: list[Obj], workdir: Path) -> None:
        self.objects = objects
        self.workdir = workdir
        self.config_maps = {c["metadata"]["name"]: c["data"] for c in of_kind(objects, "ConfigMap")}
        self.secrets = {s["metadata"]["name"]: secret_values(s) for s in of_kind(objects, "Secret")}
        # (pod, container port) -> local port; a port P whose P + 10000 is free too, as a Redis
        # Cluster node's bus needs
        self.local_ports: dict[tuple[str, int], int] = {}
        for workload in of_kind(objects, "Deployment", "StatefulSet"):
            for pod in self.pod_names(workload):
                for container in pod_spec(workload)["containers"]:
                    for port in container.get("ports", []):
                        self.local_ports[(pod, port["containerPort"])] = cluster_port()
        self.hosts = self._pod_hosts() + self._service_hosts()
        self.containers: dict[str, Container] = {}

    @staticmethod
    def pod_names(workload: Obj) -> list[str]:
        """Each pod by its name: a StatefulSet's of several replicas NAME-0, NAME-1...; any
        other workload's by its own name (one pod is run)."""
        name = str(workload["metadata"]["name"])
        replicas = workload["spec"].get("replicas", 1)
        if workload["kind"] == "StatefulSet" and replicas > 1:
            return [f"{name}-{i}" for i in range(replicas)]
        return [name]

    def _pod_hosts(self) -> list[tuple[re.Pattern[str], str]]:
        """NAME-i.SERVICE[.NS.svc[.cluster.local]] of every pod of a StatefulSet of several:
        with a port, 127.0.0.1 and that pod's local port; alone, 127.0.0.1."""
        mapped = []
        for workload in of_kind(self.objects, "StatefulSet"):
            pods = self.pod_names(workload)
            if len(pods) == 1:
                continue
            service, namespace = (
                workload["spec"]["serviceName"],
                workload["metadata"].get("namespace"),
            )
            suffix = rf"(\.{namespace}(\.svc(\.cluster\.local)?)?)?" if namespace else ""
            for pod in pods:
                host = rf"\b{re.escape(pod)}\.{re.escape(service)}{suffix}"
                for (owner, number), local in self.local_ports.items():
                    if owner == pod:
                        pattern = re.compile(rf"{host}:{number}\b")
                        mapped.append((pattern, f"127.0.0.1:{local}"))
                mapped.append((re.compile(rf"{host}(?![\w.:-])"), "127.0.0.1"))
        return mapped

    def _service_hosts(self) -> list[tuple[re.Pattern[str], str]]:
        mapped = []
        for service in of_kind(self.objects, "Service"):
            name, namespace = service["metadata"]["name"], service["metadata"].get("namespace")
            [workload] = [
                w
                for w in of_kind(self.objects, "Deployment", "StatefulSet")
                if selects(
                    {"matchLabels": service["spec"]["selector"]},
                    w["spec"]["template"]["metadata"]["labels"],
                )
            ]
            declared = [p for c in pod_spec(workload)["containers"] for p in c.get("ports", [])]
            first = self.pod_names(workload)[0]
            for port in service["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                [number] = [
                    p["containerPort"]
                    for p in declared
                    if target in (p["name"], p["containerPort"])
                ]
                local = self.local_ports[(first, number)]
                suffix = rf"(\.{namespace}(\.svc(\.cluster\.local)?)?)?" if namespace else ""
                host = re.compile(rf"\b{re.escape(name)}{suffix}:{port['port']}\b")
                mapped.append((host, f"127.0.0.1:{local}"))
        return mapped

    def url_for(self, url: str) -> str:
        """A cluster URL (a Service's host and port) as reached from this machine."""
        for pattern, local in self.hosts:
            url = pattern.sub(local, url)
        return url

    def _mount_paths(self, workload: Obj, spec: Obj, name: str) -> dict[str, Path]:
        """mountPath -> a folder of this machine holding what the volume holds (the pod
        ``name``'s)."""
        volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
        claims = {c["metadata"]["name"] for c in workload["spec"].get("volumeClaimTemplates", [])}
        paths = dict(IMAGE_PATHS)
        for mount in spec.get("volumeMounts", []):
            folder = self.workdir / name / mount["name"]
            if not folder.exists():
                folder.mkdir(parents=True)
                volume = volumes.get(mount["name"])
                if volume is not None and "configMap" in volume:
                    for key, text in self.config_maps[volume["configMap"]["name"]].items():
                        (folder / key).write_text(text)
                else:
                    assert (volume is not None and "emptyDir" in volume) or mount["name"] in claims
            paths[mount["mountPath"]] = folder
        return paths

    def prepare(self, workload: Obj, ordinal: int = 0, container: str | None = None) -> Container:
        """Pod ``ordinal``'s container ``container`` (the only one when None)."""
        specs = pod_spec(workload)["containers"]
        [spec] = [c for c in specs if container in (None, c["name"])]
        workload_name = workload["metadata"]["name"]
        pod = self.pod_names(workload)[ordinal]
        key = pod if len(specs) == 1 else f"{pod}/{spec['name']}"
        fields = {"metadata.name": pod, "status.podIP": "127.0.0.1"}
        image_name = spec["image"].split("/")[-1].split(":")[0]
        image = image_config(DOCKERFILES[image_name]) if image_name in DOCKERFILES else Image()
        # $(VAR) sees what the container spec declares (envFrom, then env in order), not the
        # image's ENV, which only lies underneath
        env: dict[str, str] = {}
        for source in spec.get("envFrom", []):
            if "configMapRef" in source:
                env.update(self.config_maps[source["configMapRef"]["name"]])
            else:
                env.update(self.secrets[source["secretRef"]["name"]])
        for variable in spec.get("env", []):
            if "value" in variable:
                env[variable["name"]] = expand(variable["value"], env)
            else:
                ref = variable["valueFrom"]
                if "secretKeyRef" in ref:
                    source = ref["secretKeyRef"]
                    env[variable["name"]] = self.secrets[source["name"]][source["key"]]
                elif "fieldRef" in ref:
                    env[variable["name"]] = fields[ref["fieldRef"]["fieldPath"]]
                else:
                    source = ref["configMapKeyRef"]
                    env[variable["name"]] = self.config_maps[source["name"]][source["key"]]
        argv = [expand(a, env) for a in spec.get("command", image.entrypoint)]
        cmd = image.cmd if "command" not in spec else []  # a command replaces the image's CMD
        argv += [expand(a, env) for a in spec.get("args", cmd)]
        env = {**image.env, **env}
        assert argv, f"{workload_name}: no command"

        paths = self._mount_paths(workload, spec, pod)
        ports = {}
        own = {}
        for port in spec.get("ports", []):
            local = self.local_ports[(pod, port["containerPort"])]
            ports[port["name"]] = ports[str(port["containerPort"])] = local
            own[port["containerPort"]] = local

        def localize_paths(text: str) -> str:
            for path in sorted(paths, key=len, reverse=True):
                text = re.sub(rf"(?<![\w.-]){re.escape(path)}(?=/|\b|$)", str(paths[path]), text)
            return text

        def localize(text: str) -> str:
            text = localize_paths(text)
            for number, local in own.items():
                text = re.sub(rf"(?<![\d.:]){number}(?![\d.])", str(local), text)
            return text.replace("0.0.0.0", "127.0.0.1")

        volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
        for mount in spec.get("volumeMounts", []):
            if "configMap" in volumes.get(mount["name"], {}):  # not what a process wrote
                for file in paths[mount["mountPath"]].iterdir():
                    file.write_text(localize(file.read_text()))
        env = {k: localize_paths(self.url_for(v)) for k, v in env.items()}
        system = os.environ.get("PATH", "/usr/bin:/bin")
        env["PATH"] = f"{BIN}:{Path(find_server_binary()).parent}:{system}"
        env["HOME"] = str(self.workdir)
        grace = float(pod_spec(workload).get("terminationGracePeriodSeconds", 30))
        prepared = Container(
            workload, spec, env, [localize(a) for a in argv], ports, grace, localize, key
        )
        self.containers[key] = prepared
        return prepared

    def start(self, name: str, ordinal: int = 0, container: str | None = None) -> Container:
        """Pod ``ordinal`` of workload ``name``, its container ``container`` (the only one when
        None), started, once its startup probe passes."""
        [workload] = [
            w
            for w in of_kind(self.objects, "Deployment", "StatefulSet")
            if w["metadata"]["name"] == name
        ]
        prepared = self.prepare(workload, ordinal, container)
        self._spawn(prepared)
        self.wait_for_probe(prepared, "startupProbe", within=60)
        return prepared

    def _spawn(self, container: Container) -> None:
        log = self.workdir / f"{container.key.replace('/', '.')}.log"
        container.log = log.open("wb")
        container.process = subprocess.Popen(
            container.argv,
            env=container.env,
            cwd=str(IMAGE_PATHS["/app"]),
            stdout=container.log,
            stderr=subprocess.STDOUT,
        )

    def run_job(self, name: str, within: float) -> tuple[int, str]:
        """The Job ``name``'s container run to its end: exit code and output."""
        [job] = [j for j in of_kind(self.objects, "Job") if j["metadata"]["name"] == name]
        container = self.prepare(job)
        self._spawn(container)
        assert container.process is not None and container.log is not None
        try:
            code = container.process.wait(within)
        finally:
            if container.process.poll() is None:
                container.process.kill()
                container.process.wait()
            container.log.close()
            del self.containers[container.key]  # ended: nothing for stop_all
        return code, self.log_of(container)

    def log_of(self, container: Container) -> str:
        return (self.workdir / f"{container.key.replace('/', '.')}.log").read_text()

    def probe(self, container: Container, kind: str) -> bool:
        """One run of the container's ``kind`` probe, as the kubelet runs it."""
        probe = container.spec[kind]
        timeout = probe.get("timeoutSeconds", 1)
        if "httpGet" in probe:
            get = probe["httpGet"]
            port = container.ports[str(get["port"])]
            try:
                status = httpx.get(
                    f"http://127.0.0.1:{port}{get['path']}", timeout=timeout
                ).status_code
            except httpx.TransportError:
                return False
            return 200 <= status < 400
        if "exec" in probe:
            command = [container.localize(a) for a in probe["exec"]["command"]]
            try:
                run = subprocess.run(
                    command, env=container.env, capture_output=True, timeout=timeout
                )
            except subprocess.TimeoutExpired:
                return False
            return run.returncode == 0
        port = container.ports[str(probe["tcpSocket"]["port"])]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
        except OSError:
            return False
        return True

    def wait_for_probe(self, container: Container, kind: str, within: float) -> None:
        deadline = time.monotonic() + within
        while not self.probe(container, kind):
            assert container.process is not None
            log = self.log_of(container)
            assert container.process.poll() is None, f"{container.name} exited: {log}"
            assert time.monotonic() < deadline, f"{container.name}: {kind} never passed: {log}"
            time.sleep(0.1)

    def stop(self, name: str) -> int:
        """SIGTERM, then the pod's grace period, as the kubelet stops a container."""
        container = self.containers[name]
        assert container.process is not None
        if container.process.poll() is None:
            container.process.send_signal(signal.SIGTERM)
        try:
            return container.process.wait(container.grace)
        except subprocess.TimeoutExpired:
            container.process.kill()
            container.process.wait()
            return -9
        finally:
            if container.log is not None:
                container.log.close()

    def stop_all(self) -> dict[str, int]:
        return {name: self.stop(name) for name in reversed(list(self.containers))}
