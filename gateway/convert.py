"""Broker domain objects rendered as Camunda's response DTOs (plain dicts, serialized by
orjson: the hot path builds no models), and a fetch request's topics as broker requests. Query
DTOs convert themselves (``to_query``, as Camunda's query DTOs apply their filters)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

import orjson

from redtask.broker import dates
from redtask.broker.activity_reads import HistoricActivity, TaskLog
from redtask.broker.activity_tree import ActivityNode, ActivityStatistics
from redtask.broker.definition_model import Deployment, DeploymentResult, ProcessDefinition
from redtask.broker.engine import InstanceState
from redtask.broker.history import HistoricInstance
from redtask.broker.instance_messages import Correlation
from redtask.broker.instance_reads import ProcessInstance
from redtask.broker.model import ExternalTask, Incident, TopicRequest
from redtask.gateway.dto.external_task import FetchExternalTaskTopicDto

JSON_FORMAT = "application/json"


def _deserialized(value: Any) -> Any:
    """An Object variable's JSON text as the object Jackson writes back: parsed. Text that is
    not JSON stays as stored (Camunda would fail to deserialize it)."""
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


def variables_out(
    variables: Mapping[str, Any], tz: tzinfo, deserialize: bool = False
) -> dict[str, Any]:
    """Typed values as Camunda renders them: a Date is an instant shown in the server's zone,
    and File content is fetched separately (value null). ``deserialize`` (Camunda's
    ``deserializeValues``): an Object serialized as ``application/json`` is rendered as the
    parsed JSON, as Camunda's Jackson writes the deserialized object back; Objects of other
    formats (Java serialization, XML) stay serialized, since turning them into JSON needs their
    Java classes."""
    out = {}
    for name, typed in variables.items():
        kind = typed.get("type")
        if (
            deserialize
            and kind == "Object"
            and (typed.get("valueInfo") or {}).get("serializationDataFormat") == JSON_FORMAT
        ):
            typed = {**typed, "value": _deserialized(typed.get("value"))}
        elif kind == "File":
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


def locked_external_task(
    task: ExternalTask, tz: tzinfo, deserialize: bool = False
) -> dict[str, Any]:
    """LockedExternalTaskDto (``suspended`` is always false there, as in Camunda);
    ``deserialize``: the ``deserializeValues`` of the topic the task was fetched for."""
    body = external_task(task, tz)
    body["suspended"] = False
    body["errorDetails"] = task.error_details
    body["variables"] = variables_out(task.variables, tz, deserialize)
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


def deployment(item: Deployment, tz: tzinfo) -> dict[str, Any]:
    """DeploymentDto (its ``links`` are empty outside of create, as in Camunda)."""
    return {
        "links": [],
        "id": item.id,
        "name": item.name,
        "source": item.source,
        "deploymentTime": dates.format_ms(item.deployment_time, tz),
        "tenantId": item.tenant_id,
    }


def process_definition(item: ProcessDefinition, now_ms: int) -> dict[str, Any]:
    """ProcessDefinitionDto."""
    return {
        "id": item.id,
        "key": item.key,
        "category": item.category,
        "description": item.description,
        "name": item.name,
        "version": item.version,
        "resource": item.resource,
        "deploymentId": item.deployment_id,
        "diagram": item.diagram,
        "suspended": item.suspended_at(now_ms),
        "tenantId": item.tenant_id,
        "versionTag": item.version_tag,
        "historyTimeToLive": item.history_time_to_live,
        "startableInTasklist": item.startable_in_tasklist,
    }


def deployment_with_definitions(
    result: DeploymentResult, tz: tzinfo, self_url: str, now_ms: int
) -> dict[str, Any]:
    """DeploymentWithDefinitionsDto: a map is null when no artifact of its kind was deployed
    (always for cases and decisions, which redtask does not run)."""
    body = deployment(result.deployment, tz)
    body["links"] = [{"method": "GET", "href": self_url, "rel": "self"}]
    definitions = result.definitions or ()
    body["deployedProcessDefinitions"] = (
        {d.id: process_definition(d, now_ms) for d in definitions} if definitions else None
    )
    body["deployedCaseDefinitions"] = None
    body["deployedDecisionDefinitions"] = None
    body["deployedDecisionRequirementsDefinitions"] = None
    return body


def process_instance(item: ProcessInstance) -> dict[str, Any]:
    """ProcessInstanceDto of a running instance (redtask never suspends one)."""
    return {
        "links": [],
        "id": item.id,
        "definitionId": item.definition_id,
        "definitionKey": item.definition_key,
        "businessKey": item.business_key,
        "caseInstanceId": None,
        "ended": False,
        "suspended": False,
        "tenantId": item.tenant_id,
    }


def incident(item: Incident, tz: tzinfo) -> dict[str, Any]:
    """IncidentDto: its own cause and root cause, no job definition. A failedJob incident (a
    timer whose step failed) names the timer's job in ``configuration`` and its activity in
    ``failedActivityId``, as Camunda does."""
    return {
        "id": item.id,
        "processDefinitionId": item.process_definition_id,
        "processInstanceId": item.process_instance_id,
        "executionId": item.execution_id,
        "incidentTimestamp": dates.format_ms(item.incident_timestamp, tz),
        "incidentType": item.incident_type,
        "activityId": item.activity_id,
        "failedActivityId": item.activity_id if item.incident_type == "failedJob" else None,
        "causeIncidentId": item.id,
        "rootCauseIncidentId": item.id,
        "configuration": item.configuration,
        "tenantId": item.tenant_id,
        "incidentMessage": item.incident_message,
        "jobDefinitionId": None,
        "annotation": None,
    }


def historic_process_instance(
    item: HistoricInstance, tz: tzinfo, ttl_s: int, definition: ProcessDefinition | None
) -> dict[str, Any]:
    """HistoricProcessInstanceDto: an ended instance is removed ``ttl_s`` after its end. The
    definition gives name and version."""
    removal = None if item.end is None else item.end + ttl_s * 1000
    return {
        "id": item.id,
        "businessKey": item.business_key,
        "processDefinitionId": item.definition_id,
        "processDefinitionKey": item.definition_key,
        "processDefinitionName": None if definition is None else definition.name,
        "processDefinitionVersion": None if definition is None else definition.version,
        "startTime": dates.format_ms(item.start, tz),
        "endTime": dates.format_ms(item.end, tz),
        "removalTime": dates.format_ms(removal, tz),
        "durationInMillis": item.duration,
        "startUserId": None,
        "startActivityId": None,
        "deleteReason": None,
        "rootProcessInstanceId": item.root_instance_id or item.id,
        "superProcessInstanceId": item.super_instance_id,
        "superCaseInstanceId": None,
        "caseInstanceId": None,
        "tenantId": item.tenant_id,
        "state": item.state,
        "restartedProcessInstanceId": None,
    }


def started_instance(state: InstanceState, definition_key: str, base_url: str) -> dict[str, Any]:
    """ProcessInstanceDto answered by a start: with its self link, ended if it already did."""
    return {
        "links": [
            {
                "method": "GET",
                "href": f"{base_url}/process-instance/{state.instance_id}",
                "rel": "self",
            }
        ],
        "id": state.instance_id,
        "definitionId": state.definition_id,
        "definitionKey": definition_key,
        "businessKey": state.business_key,
        "caseInstanceId": None,
        "ended": state.status != "active",
        "suspended": False,
        "tenantId": state.tenant_id,
    }


def message_correlation_result(
    item: Correlation, tz: tzinfo, with_variables: bool = False
) -> dict[str, Any]:
    """MessageCorrelationResultDto of a triggered execution, or of an instance a message start
    event started (resultType ProcessDefinition, its ProcessInstanceDto without links);
    ``with_variables``: the MessageCorrelationResultWithVariableDto, with the instance's
    process variables after the message (at its end, if it ended)."""
    body: dict[str, Any]
    if item.started_key is not None:
        instance = {**started_instance(item.state, item.started_key, ""), "links": []}
        body = {"resultType": "ProcessDefinition", "execution": None, "processInstance": instance}
    else:
        body = _execution_result(item)
    if with_variables:
        body["variables"] = variables_out(item.state.variables, tz, deserialize=True)
    return body


def _execution_result(item: Correlation) -> dict[str, Any]:
    return {
        "resultType": "Execution",
        "execution": {
            "id": item.execution_id,
            "processInstanceId": item.instance_id,
            "ended": item.ended,
            "tenantId": item.state.tenant_id,
        },
        "processInstance": None,
    }


def _removal(instance: HistoricInstance, ttl_s: int, tz: tzinfo) -> str | None:
    return dates.format_ms(None if instance.end is None else instance.end + ttl_s * 1000, tz)


def historic_activity_instance(item: HistoricActivity, tz: tzinfo, ttl_s: int) -> dict[str, Any]:
    """HistoricActivityInstanceDto: no user tasks (no assignee); ``taskId`` is null as in
    Camunda, which sets it for user tasks only; a call activity's record keeps the instance it
    called where a task's keeps the external task."""
    r, i = item.record, item.instance
    return {
        "id": r.id,
        "parentActivityInstanceId": r.parent_id,
        "activityId": r.activity_id,
        "activityName": item.activity_name,
        "activityType": r.activity_type,
        "processDefinitionKey": i.definition_key,
        "processDefinitionId": i.definition_id,
        "processInstanceId": i.id,
        "executionId": r.execution_id,
        "taskId": None,
        "calledProcessInstanceId": r.task_id if r.activity_type == "callActivity" else None,
        "calledCaseInstanceId": None,
        "assignee": None,
        "startTime": dates.format_ms(r.start, tz),
        "endTime": dates.format_ms(r.end, tz),
        "durationInMillis": r.duration,
        "canceled": r.canceled,
        "completeScope": r.complete_scope,
        "tenantId": i.tenant_id,
        "removalTime": _removal(i, ttl_s, tz),
        "rootProcessInstanceId": i.root_instance_id or i.id,
    }


def historic_task_log(item: TaskLog, tz: tzinfo, ttl_s: int) -> dict[str, Any]:
    """HistoricExternalTaskLogDto."""
    e, i = item.entry, item.instance
    return {
        "id": e.id,
        "timestamp": dates.format_ms(e.timestamp, tz),
        "removalTime": _removal(i, ttl_s, tz),
        "externalTaskId": e.task_id,
        "topicName": e.topic,
        "workerId": e.worker_id,
        "priority": e.priority,
        "retries": e.retries,
        "errorMessage": e.error_message,
        "activityId": e.activity_id,
        "activityInstanceId": e.activity_instance_id,
        "executionId": e.execution_id,
        "processInstanceId": i.id,
        "processDefinitionId": i.definition_id,
        "processDefinitionKey": i.definition_key,
        "tenantId": i.tenant_id,
        "rootProcessInstanceId": i.root_instance_id or i.id,
        "creationLog": e.kind == "c",
        "failureLog": e.kind == "f",
        "successLog": e.kind == "s",
        "deletionLog": e.kind == "d",
    }


def activity_instance(node: ActivityNode) -> dict[str, Any]:
    """ActivityInstanceDto (with the deprecated ``name``, which Camunda's getter still
    writes); no transition instances (redtask has no asynchronous continuations)."""
    return {
        "id": node.id,
        "parentActivityInstanceId": node.parent_id,
        "activityId": node.activity_id,
        "activityType": node.activity_type,
        "processInstanceId": node.process_instance_id,
        "processDefinitionId": node.process_definition_id,
        "childActivityInstances": [activity_instance(c) for c in node.children],
        "childTransitionInstances": [],
        "executionIds": node.execution_ids,
        "activityName": node.activity_name,
        "incidentIds": node.incident_ids,
        "incidents": [{"id": i, "parentActivityInstanceId": node.id} for i in node.incident_ids],
        "name": node.activity_name,
    }


def activity_statistics(item: ActivityStatistics, with_incidents: str | bool) -> dict[str, Any]:
    """ActivityStatisticsResultDto; ``with_incidents``: True for every type, a type name for
    that one, False for none (an empty list)."""
    incidents = [
        {"incidentType": kind, "incidentCount": count}
        for kind, count in sorted(item.incidents.items())
        if with_incidents is True or kind == with_incidents
    ]
    return {
        "id": item.activity_id,
        "instances": item.instances,
        "failedJobs": item.failed_jobs,
        "incidents": incidents if with_incidents is not False else [],
    }
