"""Process definition and deployment queries (Camunda's ProcessDefinitionQueryDto and
DeploymentQueryDto): filters, sorting, paging. Pure Python over the stored records.

Without sorting, results come by id ascending (Camunda's default ``order by RES.ID_ asc``);
a requested sort (``broker.paging.sort_and_page``, re-exported here) is stable over that order
and puts nulls last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from redtask.broker.definition_model import Deployment, ProcessDefinition
from redtask.broker.like import like
from redtask.broker.paging import sort_and_page

__all__ = [
    "DEFINITION_SORT_FIELDS",
    "DEPLOYMENT_SORT_FIELDS",
    "DefinitionQuery",
    "DeploymentQuery",
    "sort_and_page",
]

DEFINITION_SORT_FIELDS: dict[str, Callable[[ProcessDefinition], Any]] = {
    "category": lambda d: d.category,
    "key": lambda d: d.key,
    "id": lambda d: d.id,
    "name": lambda d: d.name,
    "version": lambda d: d.version,
    "deploymentId": lambda d: d.deployment_id,
    "deployTime": lambda d: d.deploy_time,
    "tenantId": lambda d: d.tenant_id,
    "versionTag": lambda d: d.version_tag,
}
DEPLOYMENT_SORT_FIELDS: dict[str, Callable[[Deployment], Any]] = {
    "id": lambda d: d.id,
    "name": lambda d: d.name,
    "deploymentTime": lambda d: d.deployment_time,
    "tenantId": lambda d: d.tenant_id,
}


def _like(value: str | None, pattern: str | None) -> bool:
    return pattern is None or (value is not None and like(value, pattern))


def _tenant_matches(
    tenant_id: str | None,
    tenant_id_in: tuple[str, ...] | None,
    without_tenant_id: bool,
    include_without_tenant_id: bool,
) -> bool:
    if without_tenant_id and tenant_id is not None:
        return False
    if tenant_id_in is not None:
        return tenant_id in tenant_id_in or (include_without_tenant_id and tenant_id is None)
    return True


@dataclass(frozen=True, slots=True)
class DefinitionQuery:
    id: str | None = None
    id_in: tuple[str, ...] | None = None
    key: str | None = None
    keys_in: tuple[str, ...] | None = None
    key_like: str | None = None
    name: str | None = None
    name_like: str | None = None
    category: str | None = None
    category_like: str | None = None
    deployment_id: str | None = None
    deployed_after: int | None = None
    deployed_at: int | None = None
    version: int | None = None
    latest_version: bool = False
    resource_name: str | None = None
    resource_name_like: str | None = None
    version_tag: str | None = None
    version_tag_like: str | None = None
    without_version_tag: bool = False
    tenant_id_in: tuple[str, ...] | None = None
    without_tenant_id: bool = False
    include_without_tenant_id: bool = False
    active: bool = False
    suspended: bool = False
    startable_in_tasklist: bool = False
    not_startable_in_tasklist: bool = False

    def select(
        self, definitions: Iterable[ProcessDefinition], now_ms: int
    ) -> list[ProcessDefinition]:
        """The matching definitions, by id. ``latest_version`` compares with all of them."""
        everything = list(definitions)
        latest: dict[tuple[str | None, str], int] = {}
        for d in everything:
            group = (d.tenant_id, d.key)
            latest[group] = max(latest.get(group, 0), d.version)
        hits = [
            d
            for d in everything
            if self._matches(d, now_ms)
            and (not self.latest_version or latest[(d.tenant_id, d.key)] == d.version)
        ]
        return sorted(hits, key=lambda d: d.id)

    def _matches(self, d: ProcessDefinition, now_ms: int) -> bool:
        # most filters compare one field with one value: None means "no filter"
        equal = (
            (self.id, d.id),
            (self.key, d.key),
            (self.name, d.name),
            (self.category, d.category),
            (self.deployment_id, d.deployment_id),
            (self.deployed_at, d.deploy_time),
            (self.version, d.version),
            (self.resource_name, d.resource),
            (self.version_tag, d.version_tag),
        )
        like = (
            (d.key, self.key_like),
            (d.name, self.name_like),
            (d.category, self.category_like),
            (d.resource, self.resource_name_like),
            (d.version_tag, self.version_tag_like),
        )
        suspended = d.suspended_at(now_ms)
        return (
            all(wanted is None or wanted == actual for wanted, actual in equal)
            and all(_like(value, pattern) for value, pattern in like)
            and (self.id_in is None or d.id in self.id_in)
            and (self.keys_in is None or d.key in self.keys_in)
            and (self.deployed_after is None or d.deploy_time > self.deployed_after)
            and not (self.without_version_tag and d.version_tag is not None)
            and _tenant_matches(
                d.tenant_id,
                self.tenant_id_in,
                self.without_tenant_id,
                self.include_without_tenant_id,
            )
            and not (self.active and suspended)
            and not (self.suspended and not suspended)
            and not self.not_startable_in_tasklist  # every definition is startable
        )


@dataclass(frozen=True, slots=True)
class DeploymentQuery:
    id: str | None = None
    name: str | None = None
    name_like: str | None = None
    source: str | None = None
    without_source: bool = False
    tenant_id_in: tuple[str, ...] | None = None
    without_tenant_id: bool = False
    include_without_tenant_id: bool = False
    after: int | None = None
    before: int | None = None

    def select(self, deployments: Iterable[Deployment]) -> list[Deployment]:
        hits = [d for d in deployments if self._matches(d)]
        return sorted(hits, key=lambda d: d.id)

    def _matches(self, d: Deployment) -> bool:
        return (
            (self.id is None or d.id == self.id)
            and (self.name is None or d.name == self.name)
            and _like(d.name, self.name_like)
            and (self.source is None or d.source == self.source)
            and not (self.without_source and d.source is not None)
            and _tenant_matches(
                d.tenant_id,
                self.tenant_id_in,
                self.without_tenant_id,
                self.include_without_tenant_id,
            )
            and (self.after is None or d.deployment_time > self.after)
            and (self.before is None or d.deployment_time < self.before)
        )
