"""The DTOs of redtask's own ``/redtask`` API (not Camunda's)."""

from __future__ import annotations

from pydantic import Field

from redtask.gateway.dto.base import Dto
from redtask.gateway.dto.variables import Variables


class PublishTaskDto(Dto):
    """A standalone task to publish on a topic."""

    variables: Variables = None
    priority: int = 0
    retries: int | None = None
    business_key: str | None = None
    tenant_id: str | None = None


class PublishedDto(Dto):
    ids: list[str] = Field(description="ids of the created tasks, in request order")
