"""The DTOs of ``/deployment``: DeploymentQueryDto (read from a query string). A deployment is
created from a multipart form, not a DTO (see ``routes.deployment``)."""

from __future__ import annotations

from redtask.broker.definition_query import DeploymentQuery
from redtask.gateway.dto.base import Dto, RestDate


class DeploymentQueryDto(Dto):
    id: str | None = None
    name: str | None = None
    name_like: str | None = None
    source: str | None = None
    without_source: bool | None = None
    tenant_id_in: list[str] | None = None
    without_tenant_id: bool | None = None
    include_deployments_without_tenant_id: bool | None = None
    after: RestDate = None
    before: RestDate = None

    def to_query(self) -> DeploymentQuery:
        return DeploymentQuery(
            id=self.id,
            name=self.name,
            name_like=self.name_like,
            source=self.source,
            without_source=bool(self.without_source),
            tenant_id_in=None if self.tenant_id_in is None else tuple(self.tenant_id_in),
            without_tenant_id=bool(self.without_tenant_id),
            include_without_tenant_id=bool(self.include_deployments_without_tenant_id),
            after=self.after,
            before=self.before,
        )
