"""``/history/process-instance`` queries: Camunda's HistoricProcessInstanceQueryDto read from a
query string (comma lists, Jackson booleans, REST dates, ``name_op_value`` variables) or a POST
body, and turned into a ``HistoryQuery``. Filters on what redtask does not record (activity and
job history, resolved incidents) and ``orQueries`` are refused with a 400; relations redtask
never has (call activities, case instances, start users) match nothing."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import QueryParams

from redtask.broker.definitions import Definitions
from redtask.broker.history import HistoryQuery
from redtask.broker.instance_reads import IncidentQuery
from redtask.broker.query import OPERATORS, VariableCondition, compare
from redtask.gateway import convert
from redtask.gateway.dto import Dto, SortingDto, VariableQueryParameterDto
from redtask.gateway.errors import invalid_request


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
    started_before: str | None = None
    started_after: str | None = None
    finished_before: str | None = None
    finished_after: str | None = None
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


_NAMES = {f.alias or n for n, f in HistoricProcessInstanceQueryDto.model_fields.items()} - {
    "sorting",
    "orQueries",
}
_LISTS = {
    "processInstanceIds",
    "processDefinitionKeyIn",
    "processDefinitionKeyNotIn",
    "processInstanceBusinessKeyIn",
    "incidentIdIn",
    "tenantIdIn",
    "activityIdIn",
    "executedActivityIdIn",
    "activeActivityIdIn",
}
_BOOLS = {
    "rootProcessInstances",
    "finished",
    "unfinished",
    "withIncidents",
    "withRootIncidents",
    "withoutTenantId",
    "active",
    "suspended",
    "completed",
    "externallyTerminated",
    "internallyTerminated",
    "variableNamesIgnoreCase",
    "variableValuesIgnoreCase",
}
# filters on what redtask does not record: the activities and jobs an instance executed
_UNSUPPORTED = (
    "executedActivityAfter",
    "executedActivityBefore",
    "executedJobAfter",
    "executedJobBefore",
    "executedActivityIdIn",
)


def _unsupported(name: str) -> Exception:
    return invalid_request(
        f"redtask does not support the historic process instance filter '{name}'"
    )


def _incident(dto: HistoricProcessInstanceQueryDto) -> IncidentQuery | None:
    """The open incident an instance must have; every redtask incident is its own root."""
    status = dto.incident_status
    if status == "resolved":  # resolved incidents are not kept
        raise _unsupported("incidentStatus=resolved")
    wanted = (dto.incident_id_in, dto.incident_type, dto.incident_message)
    if not (
        dto.with_incidents
        or dto.with_root_incidents
        or status is not None
        or dto.incident_message_like is not None
        or any(v is not None for v in wanted)
    ):
        return None
    return IncidentQuery(
        incident_id_in=convert.id_tuple(dto.incident_id_in),
        incident_type=dto.incident_type,
        incident_message=dto.incident_message,
        incident_message_like=dto.incident_message_like,
        never=status not in (None, "open"),
    )


async def _definition_ids(
    dto: HistoricProcessInstanceQueryDto, definitions: Definitions
) -> tuple[str, ...] | None:
    """The definitions selected by ``processDefinitionName(Like)`` (None: no such filter)."""
    name, like = dto.process_definition_name, dto.process_definition_name_like
    if name is None and like is None:
        return None
    return tuple(
        d.id
        for d in await definitions.definitions()
        if (name is None or d.name == name) and (like is None or compare(d.name, "like", like))
    )


async def history_query(
    dto: HistoricProcessInstanceQueryDto, definitions: Definitions
) -> HistoryQuery:
    given = dto.model_dump(by_alias=True)
    for name in ("orQueries", *_UNSUPPORTED):
        if given.get(name):  # an empty list is no filter, as in Camunda
            raise _unsupported(name)
    conditions = []
    for c in dto.variables or ():
        if c.operator not in OPERATORS:
            raise invalid_request(f"Invalid variable comparator specified: {c.operator}")
        conditions.append(VariableCondition(c.name or "", c.operator, c.value))
    wanted = (
        (dto.active, "ACTIVE"),
        (dto.completed, "COMPLETED"),
        (dto.externally_terminated, "EXTERNALLY_TERMINATED"),
    )
    # no call activities, case instances or start users: these relations never hold
    related = (
        dto.super_process_instance_id,
        dto.sub_process_instance_id,
        dto.super_case_instance_id,
        dto.sub_case_instance_id,
        dto.case_instance_id,
        dto.started_by,
    )
    return HistoryQuery(
        process_instance_id=dto.process_instance_id,
        process_instance_ids=convert.id_tuple(dto.process_instance_ids),
        process_definition_id=dto.process_definition_id,
        process_definition_id_in=await _definition_ids(dto, definitions),
        process_definition_key=dto.process_definition_key,
        process_definition_key_in=convert.id_tuple(dto.process_definition_key_in),
        process_definition_key_not_in=convert.id_tuple(dto.process_definition_key_not_in),
        business_key=dto.process_instance_business_key,
        business_key_in=convert.id_tuple(dto.process_instance_business_key_in),
        business_key_like=dto.process_instance_business_key_like,
        finished=bool(dto.finished),
        unfinished=bool(dto.unfinished),
        states=frozenset(state for on, state in wanted if on),
        tenant_id_in=convert.id_tuple(dto.tenant_id_in),
        without_tenant_id=bool(dto.without_tenant_id),
        started_before=convert.date_param("startedBefore", dto.started_before),
        started_after=convert.date_param("startedAfter", dto.started_after),
        finished_before=convert.date_param("finishedBefore", dto.finished_before),
        finished_after=convert.date_param("finishedAfter", dto.finished_after),
        incident=_incident(dto),
        activity_id_in=convert.id_tuple(dto.activity_id_in),
        active_activity_id_in=convert.id_tuple(dto.active_activity_id_in),
        variables=tuple(conditions),
        variable_names_ignore_case=bool(dto.variable_names_ignore_case),
        variable_values_ignore_case=bool(dto.variable_values_ignore_case),
        # redtask never suspends an instance nor terminates one internally
        never=bool(dto.suspended or dto.internally_terminated)
        or any(v is not None for v in related),
    )


def query_dto(params: QueryParams) -> HistoricProcessInstanceQueryDto:
    fields = convert.query_fields(params, _NAMES, _LISTS, _BOOLS)
    return HistoricProcessInstanceQueryDto.model_validate(fields)
