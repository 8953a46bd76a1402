"""Conversion between wire DTOs and broker domain objects: the one place it happens."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from broker import dates
from broker.model import ExternalTask, TopicRequest
from broker.query import TaskQuery, VariableCondition
from gateway.dto import ExternalTaskQueryDto, FetchExternalTaskTopicDto
from gateway.errors import invalid_request


def variables_out(variables: Mapping[str, Any], tz: tzinfo) -> dict[str, Any]:
    """Typed values as Camunda renders them: a Date is an instant shown in the server's zone,
    and File content is fetched separately (value null)."""
    out = {}
    for name, typed in variables.items():
        kind = typed.get("type")
        if kind == "File":
            typed = {**typed, "value": None}
        elif kind == "Date" and typed.get("value") is not None:
            instant = dates.parse_datetime(typed["value"])
            typed = {**typed, "value": dates.format_datetime(instant.astimezone(tz))}
        out[name] = typed
    return out


def external_task(task: ExternalTask, tz: tzinfo) -> dict[str, Any]:
    """ExternalTaskDto."""
    return {
        "activityId": task.activity_id,
        "activityInstanceId": task.activity_instance_id,
        "errorMessage": task.error_message,
        "executionId": task.execution_id,
        "id": task.id,
        "lockExpirationTime": dates.format_ms(task.lock_expiration_time, tz),
        "createTime": dates.format_ms(task.create_time, tz),
        "processDefinitionId": task.process_definition_id,
        "processDefinitionKey": task.process_definition_key,
        "processDefinitionVersionTag": task.process_definition_version_tag,
        "processInstanceId": task.process_instance_id,
        "retries": task.retries,
        "suspended": task.suspended,
        "workerId": task.worker_id,
        "topicName": task.topic_name,
        "tenantId": task.tenant_id,
        "priority": task.priority,
        "businessKey": task.business_key,
    }


def locked_external_task(task: ExternalTask, tz: tzinfo) -> dict[str, Any]:
    """LockedExternalTaskDto (``suspended`` is always false there, as in Camunda)."""
    body = external_task(task, tz)
    body["suspended"] = False
    body["errorDetails"] = task.error_details
    body["variables"] = variables_out(task.variables, tz)
    body["extensionProperties"] = task.extension_properties
    return body


def topic_request(dto: FetchExternalTaskTopicDto) -> TopicRequest:
    def tup(values: list[str] | None) -> tuple[str, ...] | None:
        return None if values is None else tuple(values)

    return TopicRequest(
        topic_name=dto.topic_name,  # type: ignore[arg-type] # None is refused by the store
        lock_duration=dto.lock_duration or 0,
        variables=tup(dto.variables),
        local_variables=bool(dto.local_variables),
        business_key=dto.business_key,
        process_definition_id=dto.process_definition_id,
        process_definition_id_in=tup(dto.process_definition_id_in),
        process_definition_key=dto.process_definition_key,
        process_definition_key_in=tup(dto.process_definition_key_in),
        process_definition_version_tag=dto.process_definition_version_tag,
        without_tenant_id=bool(dto.without_tenant_id),
        tenant_id_in=tup(dto.tenant_id_in),
        process_variables=dto.process_variables,
        deserialize_values=bool(dto.deserialize_values),
        include_extension_properties=bool(dto.include_extension_properties),
    )


def _date_param(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return dates.to_ms(dates.parse_datetime(value))
    except ValueError:
        raise invalid_request(f"Cannot set query parameter '{name}' to value '{value}'") from None


def task_query(dto: ExternalTaskQueryDto) -> TaskQuery:
    conditions = tuple(
        VariableCondition(c.name or "", c.operator or "", c.value)
        for c in dto.process_variables or ()
    )
    never = "\x00no-match"  # process definitions by name: standalone tasks have none

    def tup(values: list[str] | None) -> tuple[str, ...] | None:
        return tuple(values) if values else None  # Camunda ignores an empty list filter

    return TaskQuery(
        external_task_id=dto.external_task_id,
        external_task_id_in=tup(dto.external_task_id_in),
        topic_name=dto.topic_name,
        worker_id=dto.worker_id,
        locked=bool(dto.locked),
        not_locked=bool(dto.not_locked),
        with_retries_left=bool(dto.with_retries_left),
        no_retries_left=bool(dto.no_retries_left),
        lock_expiration_after=_date_param("lockExpirationAfter", dto.lock_expiration_after),
        lock_expiration_before=_date_param("lockExpirationBefore", dto.lock_expiration_before),
        activity_id=dto.activity_id,
        activity_id_in=tup(dto.activity_id_in),
        execution_id=dto.execution_id,
        process_instance_id=dto.process_instance_id,
        process_instance_id_in=tup(dto.process_instance_id_in),
        process_definition_id=dto.process_definition_id
        if dto.process_definition_name is None and dto.process_definition_name_like is None
        else never,
        process_definition_key=dto.process_definition_key,
        process_definition_key_in=tup(dto.process_definition_key_in),
        tenant_id_in=tup(dto.tenant_id_in),
        active=bool(dto.active),
        suspended=bool(dto.suspended),
        priority_higher_than_or_equals=dto.priority_higher_than_or_equals,
        priority_lower_than_or_equals=dto.priority_lower_than_or_equals,
        process_variables=conditions,
        variable_names_ignore_case=bool(dto.variable_names_ignore_case),
        variable_values_ignore_case=bool(dto.variable_values_ignore_case),
    )
