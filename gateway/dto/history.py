"""The DTOs of ``/history/process-instance``: HistoricProcessInstanceQueryDto (a query string
or a POST body) and its broker query. Filters on what redtask does not record (activity and
job history, resolved incidents) and ``orQueries`` are refused with a 400; relations redtask
never has (call activities, case instances, start users) match nothing."""

from __future__ import annotations

from typing import Any

from redtask.broker.definitions import Definitions
from redtask.broker.history import HistoryQuery
from redtask.broker.instance_reads import IncidentQuery
from redtask.broker.query import OPERATORS, VariableCondition, compare
from redtask.gateway.dto.base import Dto, RestDate, SortingDto, id_filter
from redtask.gateway.dto.variables import VariableQueryParameterDto
from redtask.gateway.errors import CamundaError, invalid_request

# filters on what redtask does not record: the activities and jobs an instance executed
_UNSUPPORTED = {
    "executed_activity_after": "executedActivityAfter",
    "executed_activity_before": "executedActivityBefore",
    "executed_job_after": "executedJobAfter",
    "executed_job_before": "executedJobBefore",
    "executed_activity_id_in": "executedActivityIdIn",
}


def _unsupported(name: str) -> CamundaError:
    return invalid_request(
        f"redtask does not support the historic process instance filter '{name}'"
    )


class HistoricProcessInstanceQueryDto(Dto):
    process_instance_id: str | None = None
    process_instance_ids: list[str] | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    process_definition_key_in: list[str] | None = None
    process_definition_name: str | None = None
    process_definition_name_like: str | None = None
    process_definition_key_not_in: list[str] | None = None
    process_instance_business_key: str | None = None
    process_instance_business_key_in: list[str] | None = None
    process_instance_business_key_like: str | None = None
    root_process_instances: bool | None = None
    finished: bool | None = None
    unfinished: bool | None = None
    with_incidents: bool | None = None
    with_root_incidents: bool | None = None
    incident_id_in: list[str] | None = None
    incident_type: str | None = None
    incident_status: str | None = None
    incident_message: str | None = None
    incident_message_like: str | None = None
    started_before: RestDate = None
    started_after: RestDate = None
    finished_before: RestDate = None
    finished_after: RestDate = None
    executed_activity_after: str | None = None
    executed_activity_before: str | None = None
    executed_job_after: str | None = None
    executed_job_before: str | None = None
    started_by: str | None = None
    super_process_instance_id: str | None = None
    sub_process_instance_id: str | None = None
    super_case_instance_id: str | None = None
    sub_case_instance_id: str | None = None
    case_instance_id: str | None = None
    tenant_id_in: list[str] | None = None
    without_tenant_id: bool | None = None
    activity_id_in: list[str] | None = None
    executed_activity_id_in: list[str] | None = None
    active_activity_id_in: list[str] | None = None
    active: bool | None = None
    suspended: bool | None = None
    completed: bool | None = None
    externally_terminated: bool | None = None
    internally_terminated: bool | None = None
    variables: list[VariableQueryParameterDto] | None = None
    variable_names_ignore_case: bool | None = None
    variable_values_ignore_case: bool | None = None
    or_queries: list[Any] | None = None
    sorting: list[SortingDto] | None = None

    def _incident(self) -> IncidentQuery | None:
        """The open incident an instance must have; every redtask incident is its own root."""
        status = self.incident_status
        if status == "resolved":  # resolved incidents are not kept
            raise _unsupported("incidentStatus=resolved")
        wanted = (self.incident_id_in, self.incident_type, self.incident_message)
        if not (
            self.with_incidents
            or self.with_root_incidents
            or status is not None
            or self.incident_message_like is not None
            or any(v is not None for v in wanted)
        ):
            return None
        return IncidentQuery(
            incident_id_in=id_filter(self.incident_id_in),
            incident_type=self.incident_type,
            incident_message=self.incident_message,
            incident_message_like=self.incident_message_like,
            never=status not in (None, "open"),
        )

    async def _definition_ids(self, definitions: Definitions) -> tuple[str, ...] | None:
        """The definitions selected by ``processDefinitionName(Like)`` (None: no such filter)."""
        name, like = self.process_definition_name, self.process_definition_name_like
        if name is None and like is None:
            return None
        return tuple(
            d.id
            for d in await definitions.definitions()
            if (name is None or d.name == name) and (like is None or compare(d.name, "like", like))
        )

    async def to_query(self, definitions: Definitions) -> HistoryQuery:
        if self.or_queries:  # an empty list is no filter, as in Camunda
            raise _unsupported("orQueries")
        for attribute, name in _UNSUPPORTED.items():
            if getattr(self, attribute):
                raise _unsupported(name)
        conditions = []
        for c in self.variables or ():
            if c.operator not in OPERATORS:
                raise invalid_request(f"Invalid variable comparator specified: {c.operator}")
            conditions.append(VariableCondition(c.name or "", c.operator, c.value))
        wanted = (
            (self.active, "ACTIVE"),
            (self.completed, "COMPLETED"),
            (self.externally_terminated, "EXTERNALLY_TERMINATED"),
            (self.internally_terminated, "INTERNALLY_TERMINATED"),
        )
        # no case instances or start users: these relations never hold
        related = (
            self.super_case_instance_id,
            self.sub_case_instance_id,
            self.case_instance_id,
            self.started_by,
        )
        return HistoryQuery(
            process_instance_id=self.process_instance_id,
            process_instance_ids=id_filter(self.process_instance_ids),
            process_definition_id=self.process_definition_id,
            process_definition_id_in=await self._definition_ids(definitions),
            process_definition_key=self.process_definition_key,
            process_definition_key_in=id_filter(self.process_definition_key_in),
            process_definition_key_not_in=id_filter(self.process_definition_key_not_in),
            business_key=self.process_instance_business_key,
            business_key_in=id_filter(self.process_instance_business_key_in),
            business_key_like=self.process_instance_business_key_like,
            finished=bool(self.finished),
            unfinished=bool(self.unfinished),
            states=frozenset(state for on, state in wanted if on),
            tenant_id_in=id_filter(self.tenant_id_in),
            without_tenant_id=bool(self.without_tenant_id),
            started_before=self.started_before,
            started_after=self.started_after,
            finished_before=self.finished_before,
            finished_after=self.finished_after,
            incident=self._incident(),
            activity_id_in=id_filter(self.activity_id_in),
            active_activity_id_in=id_filter(self.active_activity_id_in),
            variables=tuple(conditions),
            variable_names_ignore_case=bool(self.variable_names_ignore_case),
            variable_values_ignore_case=bool(self.variable_values_ignore_case),
            # redtask never suspends an instance
            never=bool(self.suspended) or any(v is not None for v in related),
            super_process_instance_id=self.super_process_instance_id,
            sub_process_instance_id=self.sub_process_instance_id,
            root=bool(self.root_process_instances),
        )
