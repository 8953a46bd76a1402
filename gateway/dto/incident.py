"""The DTOs of ``/incident``: IncidentQueryDto (read from a query string)."""

from __future__ import annotations

from redtask.broker.instance_reads import IncidentQuery
from redtask.gateway.dto.base import Dto, RestDate, id_filter


class IncidentQueryDto(Dto):
    incident_id: str | None = None
    incident_type: str | None = None
    incident_message: str | None = None
    incident_message_like: str | None = None
    process_definition_id: str | None = None
    process_definition_key_in: list[str] | None = None
    process_instance_id: str | None = None
    execution_id: str | None = None
    incident_timestamp_before: RestDate = None
    incident_timestamp_after: RestDate = None
    activity_id: str | None = None
    failed_activity_id: str | None = None
    cause_incident_id: str | None = None
    root_cause_incident_id: str | None = None
    configuration: str | None = None
    tenant_id_in: list[str] | None = None
    job_definition_id_in: list[str] | None = None

    def to_query(self) -> IncidentQuery:
        return IncidentQuery(
            incident_id=self.incident_id,
            incident_type=self.incident_type,
            incident_message=self.incident_message,
            incident_message_like=self.incident_message_like,
            process_definition_id=self.process_definition_id,
            process_definition_key_in=id_filter(self.process_definition_key_in),
            process_instance_id=self.process_instance_id,
            execution_id=self.execution_id,
            activity_id=self.activity_id,
            cause_incident_id=self.cause_incident_id,
            root_cause_incident_id=self.root_cause_incident_id,
            configuration=self.configuration,
            tenant_id_in=id_filter(self.tenant_id_in),
            timestamp_after=self.incident_timestamp_after,
            timestamp_before=self.incident_timestamp_before,
            # external-task incidents have no failed activity and no job definition
            never=self.failed_activity_id is not None or bool(self.job_definition_id_in),
        )
