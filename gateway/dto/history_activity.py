"""HistoricActivityInstanceQueryDto and HistoricExternalTaskLogQueryDto (a query string or a POST
body) and their broker queries."""

from __future__ import annotations

from redtask.broker.activity_reads import ActivityQuery, TaskLogQuery
from redtask.gateway.dto.base import Dto, RestDate, SortingDto, id_filter
from redtask.gateway.errors import CamundaError


class HistoricActivityInstanceQueryDto(Dto):
    activity_instance_id: str | None = None
    process_instance_id: str | None = None
    process_definition_id: str | None = None
    execution_id: str | None = None
    activity_id: str | None = None
    activity_name: str | None = None
    activity_type: str | None = None
    task_assignee: str | None = None
    finished: bool | None = None
    unfinished: bool | None = None
    complete_scope: bool | None = None
    canceled: bool | None = None
    started_before: RestDate = None
    started_after: RestDate = None
    finished_before: RestDate = None
    finished_after: RestDate = None
    tenant_id_in: list[str] | None = None
    without_tenant_id: bool | None = None
    sorting: list[SortingDto] | None = None

    def to_query(self) -> ActivityQuery:
        """Raises CamundaError (400) for ``completeScope`` together with ``canceled``: an
        activity instance is in one state (Camunda: 500 ProcessEngineException)."""
        if self.complete_scope and self.canceled:
            raise CamundaError(
                400,
                "ProcessEngineException",
                "Already querying for activity instance state <scopeComplete>",
                None,
            )
        return ActivityQuery(
            activity_instance_id=self.activity_instance_id,
            process_instance_id=self.process_instance_id,
            process_definition_id=self.process_definition_id,
            execution_id=self.execution_id,
            activity_id=self.activity_id,
            activity_name=self.activity_name,
            activity_type=self.activity_type,
            finished=bool(self.finished),
            unfinished=bool(self.unfinished),
            complete_scope=bool(self.complete_scope),
            canceled=bool(self.canceled),
            started_before=self.started_before,
            started_after=self.started_after,
            finished_before=self.finished_before,
            finished_after=self.finished_after,
            tenant_id_in=id_filter(self.tenant_id_in),
            without_tenant_id=bool(self.without_tenant_id),
            never=self.task_assignee is not None,  # no user tasks, so no assignees
        )


class HistoricExternalTaskLogQueryDto(Dto):
    log_id: str | None = None
    task_id: str | None = None
    topic_name: str | None = None
    worker_id: str | None = None
    error_message: str | None = None
    activity_id_in: list[str] | None = None
    activity_instance_id_in: list[str] | None = None
    execution_id_in: list[str] | None = None
    process_instance_id: str | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    priority_higher_than_or_equals: int | None = None
    priority_lower_than_or_equals: int | None = None
    tenant_id_in: list[str] | None = None
    creation_log: bool | None = None
    failure_log: bool | None = None
    success_log: bool | None = None
    deletion_log: bool | None = None
    sorting: list[SortingDto] | None = None

    def to_query(self) -> TaskLogQuery:
        kinds = (
            (self.creation_log, "c"),
            (self.failure_log, "f"),
            (self.success_log, "s"),
            (self.deletion_log, "d"),
        )
        return TaskLogQuery(
            log_id=self.log_id,
            task_id=self.task_id,
            topic_name=self.topic_name,
            worker_id=self.worker_id,
            error_message=self.error_message,
            activity_id_in=id_filter(self.activity_id_in),
            activity_instance_id_in=id_filter(self.activity_instance_id_in),
            execution_id_in=id_filter(self.execution_id_in),
            process_instance_id=self.process_instance_id,
            process_definition_id=self.process_definition_id,
            process_definition_key=self.process_definition_key,
            priority_higher_than_or_equals=self.priority_higher_than_or_equals,
            priority_lower_than_or_equals=self.priority_lower_than_or_equals,
            tenant_id_in=id_filter(self.tenant_id_in),
            kinds=frozenset(kind for on, kind in kinds if on),
        )
