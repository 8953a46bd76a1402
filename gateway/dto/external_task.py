"""The DTOs of ``/external-task`` (Camunda's ``org.camunda.bpm.engine.rest.dto.externaltask``)."""

from __future__ import annotations

from typing import Any

from redtask.broker.query import OPERATORS, TaskQuery, VariableCondition
from redtask.gateway.dto.base import Dto, JavaString, RestDate, SortingDto, id_filter
from redtask.gateway.dto.variables import VariableQueryParameterDto, Variables
from redtask.gateway.errors import invalid_request


class FetchExternalTaskTopicDto(Dto):
    topic_name: str | None = None
    lock_duration: int | None = None
    variables: list[str] | None = None
    local_variables: bool | None = None
    business_key: str | None = None
    process_definition_id: str | None = None
    process_definition_id_in: list[str] | None = None
    process_definition_key: str | None = None
    process_definition_key_in: list[str] | None = None
    process_definition_version_tag: str | None = None
    without_tenant_id: bool | None = None
    tenant_id_in: list[str] | None = None
    process_variables: dict[str, Any] | None = None
    deserialize_values: bool | None = None
    include_extension_properties: bool | None = None


class FetchExternalTasksDto(Dto):
    worker_id: JavaString = None
    max_tasks: int | None = None
    use_priority: bool | None = None
    async_response_timeout: int | None = None
    sorting: list[SortingDto] | None = None
    topics: list[FetchExternalTaskTopicDto] | None = None
    include_extension_properties: bool | None = None


class CompleteExternalTaskDto(Dto):
    worker_id: JavaString = None
    variables: Variables = None
    local_variables: Variables = None


class ExternalTaskFailureDto(Dto):
    worker_id: JavaString = None
    error_message: str | None = None
    error_details: str | None = None
    retries: int | None = None
    retry_timeout: int | None = None
    variables: Variables = None
    local_variables: Variables = None


class ExternalTaskBpmnErrorDto(Dto):
    worker_id: JavaString = None
    error_code: str | None = None
    error_message: str | None = None
    variables: Variables = None


class LockExternalTaskDto(Dto):
    worker_id: JavaString = None
    lock_duration: int | None = None


class ExtendLockOnExternalTaskDto(Dto):
    worker_id: JavaString = None
    new_duration: int | None = None


class RetriesDto(Dto):
    retries: int | None = None


class PriorityDto(Dto):
    priority: int | None = None


class ExternalTaskQueryDto(Dto):
    external_task_id: str | None = None
    external_task_id_in: list[str] | None = None
    topic_name: str | None = None
    worker_id: JavaString = None
    locked: bool | None = None
    not_locked: bool | None = None
    with_retries_left: bool | None = None
    no_retries_left: bool | None = None
    lock_expiration_after: RestDate = None
    lock_expiration_before: RestDate = None
    activity_id: str | None = None
    activity_id_in: list[str] | None = None
    execution_id: str | None = None
    process_instance_id: str | None = None
    process_instance_id_in: list[str] | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    process_definition_key_in: list[str] | None = None
    process_definition_name: str | None = None
    process_definition_name_like: str | None = None
    tenant_id_in: list[str] | None = None
    active: bool | None = None
    suspended: bool | None = None
    priority_higher_than_or_equals: int | None = None
    priority_lower_than_or_equals: int | None = None
    process_variables: list[VariableQueryParameterDto] | None = None
    variable_names_ignore_case: bool | None = None
    variable_values_ignore_case: bool | None = None
    sorting: list[SortingDto] | None = None

    def to_query(self) -> TaskQuery:
        """The broker's query (ExternalTaskQueryDto#applyFilters)."""
        conditions = []
        for c in self.process_variables or ():
            operator = c.operator or ""
            if operator not in OPERATORS:
                raise invalid_request(f"Invalid process variable comparator specified: {operator}")
            conditions.append(VariableCondition(c.name or "", operator, c.value))
        return TaskQuery(
            external_task_id=self.external_task_id,
            external_task_id_in=id_filter(self.external_task_id_in),
            topic_name=self.topic_name,
            worker_id=self.worker_id,
            locked=bool(self.locked),
            not_locked=bool(self.not_locked),
            with_retries_left=bool(self.with_retries_left),
            no_retries_left=bool(self.no_retries_left),
            lock_expiration_after=self.lock_expiration_after,
            lock_expiration_before=self.lock_expiration_before,
            activity_id=self.activity_id,
            activity_id_in=id_filter(self.activity_id_in),
            execution_id=self.execution_id,
            process_instance_id=self.process_instance_id,
            process_instance_id_in=id_filter(self.process_instance_id_in),
            process_definition_id=self.process_definition_id,
            process_definition_key=self.process_definition_key,
            process_definition_key_in=id_filter(self.process_definition_key_in),
            process_definition_name=self.process_definition_name,
            process_definition_name_like=self.process_definition_name_like,
            tenant_id_in=id_filter(self.tenant_id_in),
            active=bool(self.active),
            suspended=bool(self.suspended),
            priority_higher_than_or_equals=self.priority_higher_than_or_equals,
            priority_lower_than_or_equals=self.priority_lower_than_or_equals,
            process_variables=tuple(conditions),
            variable_names_ignore_case=bool(self.variable_names_ignore_case),
            variable_values_ignore_case=bool(self.variable_values_ignore_case),
        )


class TopicNamesParams(Dto):
    """The query parameters of ``GET /external-task/topic-names``."""

    with_locked_tasks: bool | None = None
    with_unlocked_tasks: bool | None = None
    with_retries_left: bool | None = None


class SetRetriesForExternalTasksDto(Dto):
    retries: int | None = None
    external_task_ids: list[str | None] | None = None
    process_instance_ids: list[str] | None = None
    external_task_query: ExternalTaskQueryDto | None = None
    process_instance_query: dict[str, Any] | None = None
    historic_process_instance_query: dict[str, Any] | None = None
