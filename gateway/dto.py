"""Camunda's request DTOs (camelCase on the wire). Unknown fields are ignored, numeric strings
are coerced and ``null`` primitives mean 0/false, as Jackson does for Camunda."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Dto(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


Variables = dict[str, Any] | None


class SortingDto(Dto):
    sort_by: str | None = None
    sort_order: str | None = None


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
    worker_id: str | None = None
    max_tasks: int | None = None
    use_priority: bool | None = None
    async_response_timeout: int | None = None
    sorting: list[SortingDto] | None = None
    topics: list[FetchExternalTaskTopicDto] | None = None
    include_extension_properties: bool | None = None


class CompleteExternalTaskDto(Dto):
    worker_id: str | None = None
    variables: Variables = None
    local_variables: Variables = None


class ExternalTaskFailureDto(Dto):
    worker_id: str | None = None
    error_message: str | None = None
    error_details: str | None = None
    retries: int | None = None
    retry_timeout: int | None = None
    variables: Variables = None
    local_variables: Variables = None


class ExternalTaskBpmnErrorDto(Dto):
    worker_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    variables: Variables = None


class LockExternalTaskDto(Dto):
    worker_id: str | None = None
    lock_duration: int | None = None


class ExtendLockOnExternalTaskDto(Dto):
    worker_id: str | None = None
    new_duration: int | None = None


class RetriesDto(Dto):
    retries: int | None = None


class PriorityDto(Dto):
    priority: int | None = None


class VariableQueryParameterDto(Dto):
    name: str | None = None
    operator: str | None = None
    value: Any = None


class ExternalTaskQueryDto(Dto):
    external_task_id: str | None = None
    external_task_id_in: list[str] | None = None
    topic_name: str | None = None
    worker_id: str | None = None
    locked: bool | None = None
    not_locked: bool | None = None
    with_retries_left: bool | None = None
    no_retries_left: bool | None = None
    lock_expiration_after: str | None = None
    lock_expiration_before: str | None = None
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


class SetRetriesForExternalTasksDto(Dto):
    retries: int | None = None
    external_task_ids: list[str | None] | None = None
    process_instance_ids: list[str] | None = None
    external_task_query: ExternalTaskQueryDto | None = None
    process_instance_query: dict[str, Any] | None = None
    historic_process_instance_query: dict[str, Any] | None = None


class PublishTaskDto(Dto):
    """redtask extension: a standalone task to publish on a topic."""

    variables: Variables = None
    priority: int = 0
    retries: int | None = None
    business_key: str | None = None
    tenant_id: str | None = None
