"""Deployments and process definitions as domain objects, and the parsing of a deployment's
resources (pure Python: ``broker.definitions`` stores what this module produces).

A deployment is a set of named resources. Every ``.bpmn`` / ``.bpmn20.xml`` resource is parsed
with the hardened BPMN parser; each executable process in it becomes a process definition.
Other resources are kept as they are and produce no definition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from redtask.broker.bpmn import BpmnParseError, Problem, ProcessModel, parse_bpmn
from redtask.broker.bpmn._xml import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, attr, load
from redtask.broker.errors import BrokerError, InvalidArgument

BPMN_SUFFIXES = (".bpmn20.xml", ".bpmn")
PROCESS_APPLICATION_SOURCE = "process application"  # Camunda's source for duplicate checks
MAX_ID_LENGTH = 64  # Camunda's id column; longer "<key>:<version>:<uuid>" ids drop the prefix
_PARSE_PREFIX = "ENGINE-09005 Could not parse BPMN process. Errors: "


def is_bpmn(resource_name: str) -> bool:
    return resource_name.endswith(BPMN_SUFFIXES)


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@dataclass(frozen=True, slots=True)
class Resource:
    name: str
    content: bytes


@dataclass(frozen=True, slots=True)
class DeploymentRequest:
    """What ``POST /deployment/create`` carries. ``changed_only`` implies duplicate filtering;
    ``activation_time`` (epoch ms) keeps the new definitions suspended until then."""

    resources: Sequence[Resource]
    name: str | None = None
    source: str | None = None
    tenant_id: str | None = None
    duplicate_filtering: bool = False
    changed_only: bool = False
    activation_time: int | None = None


@dataclass(frozen=True, slots=True)
class Deployment:
    id: str
    name: str | None
    source: str | None
    tenant_id: str | None
    deployment_time: int  # epoch ms
    resources: Mapping[str, str] = field(default_factory=dict)  # name -> sha256 of the content
    definition_ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "source": self.source,
            "tenantId": self.tenant_id,
            "deploymentTime": self.deployment_time,
            "resources": dict(self.resources),
            "definitionIds": list(self.definition_ids),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Deployment:
        return cls(
            id=data["id"],
            name=data["name"],
            source=data["source"],
            tenant_id=data["tenantId"],
            deployment_time=data["deploymentTime"],
            resources=data["resources"],
            definition_ids=tuple(data["definitionIds"]),
        )


@dataclass(frozen=True, slots=True)
class ProcessDefinition:
    """One deployed version of a process (immutable). ``category`` is the BPMN targetNamespace;
    ``history_time_to_live`` is in days; ``deploy_time`` and ``activation_time`` are epoch ms."""

    id: str
    key: str
    version: int
    resource: str
    deployment_id: str
    deploy_time: int
    name: str | None = None
    category: str | None = None
    tenant_id: str | None = None
    version_tag: str | None = None
    history_time_to_live: int | None = None
    activation_time: int | None = None
    description: str | None = None  # the process's <documentation>
    diagram = None  # no diagram resources are recognised
    startable_in_tasklist = True

    def suspended_at(self, now_ms: int) -> bool:
        """True until the deployment's activation time (never suspended without one)."""
        return self.activation_time is not None and now_ms < self.activation_time

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "version": self.version,
            "resource": self.resource,
            "deploymentId": self.deployment_id,
            "deployTime": self.deploy_time,
            "name": self.name,
            "category": self.category,
            "tenantId": self.tenant_id,
            "versionTag": self.version_tag,
            "historyTimeToLive": self.history_time_to_live,
            "activationTime": self.activation_time,
            "description": self.description,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProcessDefinition:
        return cls(
            id=data["id"],
            key=data["key"],
            version=data["version"],
            resource=data["resource"],
            deployment_id=data["deploymentId"],
            deploy_time=data["deployTime"],
            name=data["name"],
            category=data["category"],
            tenant_id=data["tenantId"],
            version_tag=data["versionTag"],
            history_time_to_live=data["historyTimeToLive"],
            activation_time=data["activationTime"],
            description=data.get("description"),  # absent in definitions stored before
        )


@dataclass(frozen=True, slots=True)
class DeploymentResult:
    """The deployment and the definitions it created; ``definitions`` is None when duplicate
    filtering found nothing new and ``deployment`` is the existing one (Camunda: null map)."""

    deployment: Deployment
    definitions: tuple[ProcessDefinition, ...] | None


class DeploymentParseError(InvalidArgument):
    """Some BPMN resources are invalid (Camunda's ParseException, 400); ``problems`` maps each
    failing resource name to all of its problems. Nothing was stored."""

    def __init__(self, errors: Sequence[BpmnParseError]) -> None:
        self.problems: dict[str, tuple[Problem, ...]] = {
            e.resource_name: e.problems for e in errors
        }
        super().__init__(
            _PARSE_PREFIX + "".join(str(e).removeprefix(_PARSE_PREFIX) for e in errors)
        )


class DeploymentNotFound(BrokerError):
    """``deleting``: raised by a delete (Camunda's REST API words that case differently)."""

    def __init__(self, deployment_id: str, *, deleting: bool = False) -> None:
        super().__init__(f"Deployment with id '{deployment_id}' does not exist")
        self.deployment_id = deployment_id
        self.deleting = deleting


class DefinitionNotFound(BrokerError):
    def __init__(self, definition_id: str) -> None:
        super().__init__(f"No matching definition with id {definition_id}")
        self.definition_id = definition_id


@dataclass(frozen=True, slots=True)
class ParsedResource:
    """The executable processes of one BPMN resource and its targetNamespace."""

    models: tuple[ProcessModel, ...]
    target_namespace: str | None


def parse_resources(
    resources: Mapping[str, bytes],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> dict[str, ParsedResource]:
    """Parse every BPMN resource (CPU-bound: run it off the event loop).

    Raises DeploymentParseError listing the problems of every failing resource, and
    InvalidArgument when two processes of the deployment share a key.
    """
    parsed: dict[str, ParsedResource] = {}
    errors: list[BpmnParseError] = []
    for name, content in resources.items():
        if not is_bpmn(name):
            continue
        try:
            models = parse_bpmn(content, name, max_bytes=max_bytes, max_depth=max_depth)
        except BpmnParseError as exc:
            errors.append(exc)
            continue
        namespace = None
        if models:  # already known to be safe and well-formed: load again for the root only
            namespace = attr(
                load(content, name, max_bytes=max_bytes, max_depth=max_depth), "targetNamespace"
            )
        parsed[name] = ParsedResource(tuple(models), namespace)
    if errors:
        raise DeploymentParseError(errors)
    keys: set[str] = set()
    for resource in parsed.values():
        for model in resource.models:
            if model.key in keys:
                raise InvalidArgument(
                    f"The deployment contains definitions with the same key '{model.key}' "
                    "(id attribute), this is not allowed"
                )
            keys.add(model.key)
    return parsed


def definition_id(key: str, version: int, generated: str) -> str:
    """Camunda's ``<key>:<version>:<generated>``, or ``generated`` alone past 64 characters."""
    full = f"{key}:{version}:{generated}"
    return full if len(full) <= MAX_ID_LENGTH else generated


def changed_resources(
    existing: Sequence[Deployment], source: str | None, resources: Mapping[str, bytes]
) -> set[str]:
    """Camunda's duplicate filter: the names of ``resources`` whose content differs from the
    latest resource of that name among ``existing`` (deployments of the same name and tenant,
    newest first) whose source is unset or the same (unset means "process application")."""
    source = source or PROCESS_APPLICATION_SOURCE
    latest: dict[str, str] = {}
    for deployment in existing:
        if deployment.source is None or deployment.source == source:
            for name, sha in deployment.resources.items():
                latest.setdefault(name, sha)
    return {name for name, content in resources.items() if latest.get(name) != digest(content)}
