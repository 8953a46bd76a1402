"""HistoricVariableInstanceQueryDto (a query string or a POST body) and its broker query."""

from __future__ import annotations

from typing import Any

from redtask.broker.variable_history import VariableHistoryQuery
from redtask.gateway.dto.base import Dto, SortingDto, id_filter
from redtask.gateway.errors import invalid_request


class HistoricVariableInstanceQueryDto(Dto):
    process_instance_id: str | None = None
    process_instance_id_in: list[str] | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    variable_name: str | None = None
    variable_name_like: str | None = None
    variable_value: Any = None
    variable_names_ignore_case: bool | None = None
    variable_values_ignore_case: bool | None = None
    variable_type_in: list[str] | None = None
    execution_id_in: list[str] | None = None
    activity_instance_id_in: list[str] | None = None
    task_id_in: list[str] | None = None
    case_instance_id: str | None = None
    case_execution_id_in: list[str] | None = None
    case_activity_id_in: list[str] | None = None
    tenant_id_in: list[str] | None = None
    without_tenant_id: bool | None = None
    include_deleted: bool | None = None
    sorting: list[SortingDto] | None = None

    def to_query(self) -> VariableHistoryQuery:
        """Raises CamundaError (400) for ``variableValue`` without ``variableName``."""
        if self.variable_value is not None and self.variable_name is None:
            raise invalid_request(
                "Only a single variable value parameter specified: variable name and value are "
                "required to be able to query after a specific variable value."
            )
        kinds = id_filter(self.variable_type_in)
        # no user tasks nor cases: filters on them match nothing
        unrelated = (
            self.task_id_in,
            self.case_instance_id,
            self.case_execution_id_in,
            self.case_activity_id_in,
        )
        return VariableHistoryQuery(
            process_instance_id=self.process_instance_id,
            process_instance_id_in=id_filter(self.process_instance_id_in),
            process_definition_id=self.process_definition_id,
            process_definition_key=self.process_definition_key,
            variable_name=self.variable_name,
            variable_name_like=self.variable_name_like,
            has_value=self.variable_value is not None,
            value=self.variable_value,
            names_ignore_case=bool(self.variable_names_ignore_case),
            values_ignore_case=bool(self.variable_values_ignore_case),
            variable_type_in=None if kinds is None else tuple(k.lower() for k in kinds),
            execution_id_in=id_filter(self.execution_id_in),
            activity_instance_id_in=id_filter(self.activity_instance_id_in),
            tenant_id_in=id_filter(self.tenant_id_in),
            without_tenant_id=bool(self.without_tenant_id),
            never=any(u for u in unrelated),
        )
