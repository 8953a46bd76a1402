"""The DTOs of ``/process-definition``: ProcessDefinitionQueryDto (read from a query string)
and StartProcessInstanceDto."""

from __future__ import annotations

from redtask.broker.definition_query import DefinitionQuery
from redtask.gateway.dto.base import Dto, RestDate
from redtask.gateway.dto.variables import Variables


def _tuple(values: list[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


class ProcessDefinitionQueryDto(Dto):
    process_definition_id: str | None = None
    process_definition_id_in: list[str] | None = None
    key: str | None = None
    keys_in: list[str] | None = None
    key_like: str | None = None
    name: str | None = None
    name_like: str | None = None
    category: str | None = None
    category_like: str | None = None
    deployment_id: str | None = None
    deployed_after: RestDate = None
    deployed_at: RestDate = None
    version: int | None = None
    latest_version: bool | None = None
    resource_name: str | None = None
    resource_name_like: str | None = None
    version_tag: str | None = None
    version_tag_like: str | None = None
    without_version_tag: bool | None = None
    tenant_id_in: list[str] | None = None
    without_tenant_id: bool | None = None
    include_process_definitions_without_tenant_id: bool | None = None
    active: bool | None = None
    suspended: bool | None = None
    startable_in_tasklist: bool | None = None
    not_startable_in_tasklist: bool | None = None

    def to_query(self) -> DefinitionQuery:
        return DefinitionQuery(
            id=self.process_definition_id,
            id_in=_tuple(self.process_definition_id_in),
            key=self.key,
            keys_in=_tuple(self.keys_in),
            key_like=self.key_like,
            name=self.name,
            name_like=self.name_like,
            category=self.category,
            category_like=self.category_like,
            deployment_id=self.deployment_id,
            deployed_after=self.deployed_after,
            deployed_at=self.deployed_at,
            version=self.version,
            latest_version=bool(self.latest_version),
            resource_name=self.resource_name,
            resource_name_like=self.resource_name_like,
            version_tag=self.version_tag,
            version_tag_like=self.version_tag_like,
            without_version_tag=bool(self.without_version_tag),
            tenant_id_in=_tuple(self.tenant_id_in),
            without_tenant_id=bool(self.without_tenant_id),
            include_without_tenant_id=bool(self.include_process_definitions_without_tenant_id),
            active=bool(self.active),
            suspended=bool(self.suspended),
            startable_in_tasklist=bool(self.startable_in_tasklist),
            not_startable_in_tasklist=bool(self.not_startable_in_tasklist),
        )


class StartProcessInstanceDto(Dto):
    variables: Variables = None
    business_key: str | None = None
    case_instance_id: str | None = None
    with_variables_in_return: bool | None = None
