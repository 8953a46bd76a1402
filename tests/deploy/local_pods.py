"""Rendered workloads run as local processes, the way the kubelet would run their containers.

Each container's command and args (or its image's ENTRYPOINT and CMD, read from deploy/'s
Dockerfiles), its environment (the image's ENV, envFrom, then env in order with ``$(VAR)``
expansion, Secret values decoded) and its volumes (ConfigMap files, emptyDirs and claims as
folders) become a process on this machine. What cannot be the same here is mapped: each
container port to a free local port, each Service host (``redis:6379``,
``redtask-gateway.NS.svc:8080``) to ``127.0.0.1`` and that port, each mount path to a folder, and
``0.0.0.0`` to ``127.0.0.1``. Probes run as the kubelet runs them.
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

from redtask.broker.embedded import find_server_binary, free_port
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
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None

    @property
    def name(self) -> str:
        return str(self.workload["metadata"]["name"])


class LocalPods:
    def __init__(self, objects: list[Obj], workdir: Path) -> None:
        self.objects = objects
        self.workdir = workdir
        self.config_maps = {c["metadata"]["name"]: c["data"] for c in of_kind(objects, "ConfigMap")}
        self.secrets = {s["metadata"]["name"]: secret_values(s) for s in of_kind(objects, "Secret")}
        self.local_ports: dict[tuple[str, int], int] = {}
        for workload in of_kind(objects, "Deployment", "StatefulSet"):
            for container in pod_spec(workload)["containers"]:
                for port in container.get("ports", []):
                    key = (workload["metadata"]["name"], port["containerPort"])
                    self.local_ports[key] = free_port()
        self.hosts = self._service_hosts()
        self.containers: dict[str, Container] = {}

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
            [container] = pod_spec(workload)["containers"]
            for port in service["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                [number] = [
                    p["containerPort"]
                    for p in container["ports"]
                    if target in (p["name"], p["containerPort"])
                ]
                local = self.local_ports[(workload["metadata"]["name"], number)]
                suffix = rf"(\.{namespace}(\.svc(\.cluster\.local)?)?)?" if namespace else ""
                host = re.compile(rf"\b{re.escape(name)}{suffix}:{port['port']}\b")
                mapped.append((host, f"127.0.0.1:{local}"))
        return mapped

    def url_for(self, url: str) -> str:
        """A cluster URL (a Service's host and port) as reached from this machine."""
        for pattern, local in self.hosts:
            url = pattern.sub(local, url)
        return url

    def _mount_paths(self, workload: Obj, spec: Obj) -> dict[str, Path]:
        """mountPath -> a folder of this machine holding what the volume holds."""
        name = workload["metadata"]["name"]
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

    def prepare(self, workload: Obj) -> Container:
        [spec] = pod_spec(workload)["containers"]
        workload_name = workload["metadata"]["name"]
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
                    key = ref["secretKeyRef"]
                    env[variable["name"]] = self.secrets[key["name"]][key["key"]]
                else:
                    key = ref["configMapKeyRef"]
                    env[variable["name"]] = self.config_maps[key["name"]][key["key"]]
        argv = [expand(a, env) for a in spec.get("command", image.entrypoint)]
        cmd = image.cmd if "command" not in spec else []  # a command replaces the image's CMD
        argv += [expand(a, env) for a in spec.get("args", cmd)]
        env = {**image.env, **env}
        assert argv, f"{workload_name}: no command"

        paths = self._mount_paths(workload, spec)
        ports = {}
        own = {}
        for port in spec.get("ports", []):
            local = self.local_ports[(workload_name, port["containerPort"])]
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

        for mount_path, folder in paths.items():
            if mount_path not in IMAGE_PATHS:
                for file in folder.iterdir():
                    if file.is_file():
                        file.write_text(localize(file.read_text()))
        env = {k: localize_paths(self.url_for(v)) for k, v in env.items()}
        system = os.environ.get("PATH", "/usr/bin:/bin")
        env["PATH"] = f"{BIN}:{Path(find_server_binary()).parent}:{system}"
        env["HOME"] = str(self.workdir)
        grace = float(pod_spec(workload).get("terminationGracePeriodSeconds", 30))
        container = Container(
            workload, spec, env, [localize(a) for a in argv], ports, grace, localize
        )
        self.containers[workload_name] = container
        return container

    def start(self, name: str) -> Container:
        [workload] = [
            w
            for w in of_kind(self.objects, "Deployment", "StatefulSet")
            if w["metadata"]["name"] == name
        ]
        container = self.prepare(workload)
        container.log = (self.workdir / f"{name}.log").open("wb")
        container.process = subprocess.Popen(
            container.argv,
            env=container.env,
            cwd=str(IMAGE_PATHS["/app"]),
            stdout=container.log,
            stderr=subprocess.STDOUT,
        )
        self.wait_for_probe(container, "startupProbe", within=60)
        return container

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
            log = (self.workdir / f"{container.name}.log").read_text()
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
