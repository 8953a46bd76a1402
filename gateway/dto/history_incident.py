"""HistoricIncidentQueryDto (a query string) and its broker query."""

from __future__ import annotations

from redtask.broker.incident_history import HistoricIncidentQuery
from redtask.gateway.dto.base import Dto, RestDate, id_filter


class HistoricIncidentQueryDto(Dto):
    incident_id: str | None = None
    incident_type: str | None = None
    incident_message: str | None = None
    incident_message_like: str | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    process_definition_key_in: list[str] | None = None
    process_instance_id: str | None = None
    execution_id: str | None = None
    activity_id: str | None = None
    failed_activity_id: str | None = None
    cause_incident_id: str | None = None
    root_cause_incident_id: str | None = None
    configuration: str | None = None
    history_configuration: str | None = None
    open: bool | None = None
    resolved: bool | None = None
    deleted: bool | None = None
    tenant_id_in: list[str] | None = None
    without_tenant_id: bool | None = None
    job_definition_id_in: list[str] | None = None
    create_time_before: RestDate = None
    create_time_after: RestDate = None
    end_time_before: RestDate = None
    end_time_after: RestDate = None

    def to_query(self) -> HistoricIncidentQuery:
        # Camunda asks for open incidents whenever ``open`` is given, even false
        states = (
            (self.open is not None, "open"),
            (bool(self.resolved), "resolved"),
            (bool(self.deleted), "deleted"),
        )
        return HistoricIncidentQuery(
            incident_id=self.incident_id,
            incident_type=self.incident_type,
            incident_message=self.incident_message,
            incident_message_like=self.incident_message_like,
            process_definition_id=self.process_definition_id,
            process_definition_key=self.process_definition_key,
            process_definition_key_in=id_filter(self.process_definition_key_in),
            process_instance_id=self.process_instance_id,
            execution_id=self.execution_id,
            activity_id=self.activity_id,
            failed_activity_id=self.failed_activity_id,
            cause_incident_id=self.cause_incident_id,
            root_cause_incident_id=self.root_cause_incident_id,
            configuration=self.configuration,
            states=frozenset(state for on, state in states if on),
            tenant_id_in=id_filter(self.tenant_id_in),
            without_tenant_id=bool(self.without_tenant_id),
            create_time_before=self.create_time_before,
            create_time_after=self.create_time_after,
            end_time_before=self.end_time_before,
            end_time_after=self.end_time_after,
            # no job definitions, and no history configuration is recorded
            never=bool(self.job_definition_id_in) or self.history_configuration is not None,
        )
