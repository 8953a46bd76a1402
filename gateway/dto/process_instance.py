"""The DTOs of ``/process-instance``: ProcessInstanceQueryDto (a query string or a POST body)
and PatchVariablesDto."""

from __future__ import annotations

from typing import Any

from redtask.broker.definitions import Definitions
from redtask.broker.instance_reads import IncidentQuery, InstanceQuery
from redtask.broker.query import OPERATORS, VariableCondition
from redtask.gateway.dto.base import Dto, SortingDto, id_filter
from redtask.gateway.dto.variables import VariableQueryParameterDto
from redtask.gateway.errors import invalid_request


class ProcessInstanceQueryDto(Dto):
    process_instance_ids: list[str] | None = None
    business_key: str | None = None
    business_key_like: str | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    process_definition_key_in: list[str] | None = None
    process_definition_key_not_in: list[str] | None = None
    deployment_id: str | None = None
    super_process_instance: str | None = None
    sub_process_instance: str | None = None
    case_instance_id: str | None = None
    super_case_instance: str | None = None
    sub_case_instance: str | None = None
    active: bool | None = None
    suspended: bool | None = None
    with_incident: bool | None = None
    incident_id: str | None = None
    incident_type: str | None = None
    incident_message: str | None = None
    incident_message_like: str | None = None
    tenant_id_in: list[str] | None = None
    without_tenant_id: bool | None = None
    process_definition_without_tenant_id: bool | None = None
    activity_id_in: list[str] | None = None
    root_process_instances: bool | None = None
    leaf_process_instances: bool | None = None
    variables: list[VariableQueryParameterDto] | None = None
    variable_names_ignore_case: bool | None = None
    variable_values_ignore_case: bool | None = None
    or_queries: list[Any] | None = None
    sorting: list[SortingDto] | None = None

    async def to_query(self, definitions: Definitions) -> InstanceQuery:
        """The broker's query; ``deploymentId`` selects the definitions of that deployment."""
        if self.or_queries:
            raise invalid_request(
                "redtask does not support the process instance filter 'orQueries'"
            )
        deployed = None  # the definitions of the deployment asked for
        if self.deployment_id is not None:
            found = await definitions.definitions()
            deployed = tuple(d.id for d in found if d.deployment_id == self.deployment_id)
        conditions = []
        for c in self.variables or ():
            if c.operator not in OPERATORS:
                raise invalid_request(f"Invalid variable comparator specified: {c.operator}")
            conditions.append(VariableCondition(c.name or "", c.operator, c.value))
        incident = None  # the filters on an incident the instance must have
        wanted = (
            self.incident_id,
            self.incident_type,
            self.incident_message,
            self.incident_message_like,
        )
        if self.with_incident or any(v is not None for v in wanted):
            incident = IncidentQuery(
                incident_id=self.incident_id,
                incident_type=self.incident_type,
                incident_message=self.incident_message,
                incident_message_like=self.incident_message_like,
            )
        # no case instances: these relations never hold
        related = (
            self.case_instance_id,
            self.super_case_instance,
            self.sub_case_instance,
        )
        return InstanceQuery(
            process_instance_ids=id_filter(self.process_instance_ids),
            business_key=self.business_key,
            business_key_like=self.business_key_like,
            process_definition_id=self.process_definition_id,
            process_definition_id_in=deployed,
            process_definition_key=self.process_definition_key,
            process_definition_key_in=id_filter(self.process_definition_key_in),
            process_definition_key_not_in=id_filter(self.process_definition_key_not_in),
            tenant_id_in=id_filter(self.tenant_id_in),
            without_tenant_id=bool(
                self.without_tenant_id or self.process_definition_without_tenant_id
            ),
            suspended=bool(self.suspended),
            incident=incident,
            activity_id_in=id_filter(self.activity_id_in),
            variables=tuple(conditions),
            variable_names_ignore_case=bool(self.variable_names_ignore_case),
            variable_values_ignore_case=bool(self.variable_values_ignore_case),
            never=any(v is not None for v in related),
            super_process_instance=self.super_process_instance,
            sub_process_instance=self.sub_process_instance,
            root=bool(self.root_process_instances),
            leaf=bool(self.leaf_process_instances),
        )


class PatchVariablesDto(Dto):
    modifications: dict[str, Any] | None = None
    deletions: list[str] | None = None
