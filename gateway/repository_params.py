"""Query-string parameters of ``GET /process-definition`` and ``GET /deployment`` (and their
``/count``), read the way Camunda's ProcessDefinitionQueryDto and DeploymentQueryDto read them:
comma-separated lists, Jackson booleans (``false`` = no filter), REST dates, exact 400s.
Unknown parameters are ignored. Also the flags of ``DELETE /deployment/{id}``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.datastructures import QueryParams

from redtask.broker import dates
from redtask.broker.definition_query import (
    DEFINITION_SORT_FIELDS,
    DEPLOYMENT_SORT_FIELDS,
    DefinitionQuery,
    DeploymentQuery,
)
from redtask.gateway.errors import CamundaError, invalid_request
from redtask.gateway.params import boolean_param


def _bad(name: str, value: str) -> CamundaError:
    return invalid_request(f"Cannot set query parameter '{name}' to value '{value}'")


def _integer(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise _bad(name, value) from None


def _date(name: str, value: str) -> int:
    try:
        return dates.to_ms(dates.parse_datetime(value))
    except ValueError:
        raise _bad(name, value) from None


def _read(
    params: QueryParams, fields: Mapping[str, tuple[str, Callable[[str, str], Any] | None]]
) -> dict[str, Any]:
    """{attribute: value} for each known parameter present; a None reader means boolean."""
    out: dict[str, Any] = {}
    for param, (attribute, reader) in fields.items():
        value = params.get(param)
        if value is not None:
            out[attribute] = (
                boolean_param(params, param) if reader is None else reader(param, value)
            )
    return out


def _text(name: str, value: str) -> str:
    return value


def _list(name: str, value: str) -> tuple[str, ...]:
    return tuple(value.split(","))


_DEFINITION_PARAMS: dict[str, tuple[str, Callable[[str, str], Any] | None]] = {
    "processDefinitionId": ("id", _text),
    "processDefinitionIdIn": ("id_in", _list),
    "key": ("key", _text),
    "keysIn": ("keys_in", _list),
    "keyLike": ("key_like", _text),
    "name": ("name", _text),
    "nameLike": ("name_like", _text),
    "category": ("category", _text),
    "categoryLike": ("category_like", _text),
    "deploymentId": ("deployment_id", _text),
    "deployedAfter": ("deployed_after", _date),
    "deployedAt": ("deployed_at", _date),
    "version": ("version", _integer),
    "latestVersion": ("latest_version", None),
    "resourceName": ("resource_name", _text),
    "resourceNameLike": ("resource_name_like", _text),
    "versionTag": ("version_tag", _text),
    "versionTagLike": ("version_tag_like", _text),
    "withoutVersionTag": ("without_version_tag", None),
    "tenantIdIn": ("tenant_id_in", _list),
    "withoutTenantId": ("without_tenant_id", None),
    "includeProcessDefinitionsWithoutTenantId": ("include_without_tenant_id", None),
    "active": ("active", None),
    "suspended": ("suspended", None),
    "startableInTasklist": ("startable_in_tasklist", None),
    "notStartableInTasklist": ("not_startable_in_tasklist", None),
}

_DEPLOYMENT_PARAMS: dict[str, tuple[str, Callable[[str, str], Any] | None]] = {
    "id": ("id", _text),
    "name": ("name", _text),
    "nameLike": ("name_like", _text),
    "source": ("source", _text),
    "withoutSource": ("without_source", None),
    "tenantIdIn": ("tenant_id_in", _list),
    "withoutTenantId": ("without_tenant_id", None),
    "includeDeploymentsWithoutTenantId": ("include_without_tenant_id", None),
    "after": ("after", _date),
    "before": ("before", _date),
}


def definition_query(params: QueryParams) -> DefinitionQuery:
    return DefinitionQuery(**_read(params, _DEFINITION_PARAMS))


def deployment_query(params: QueryParams) -> DeploymentQuery:
    return DeploymentQuery(**_read(params, _DEPLOYMENT_PARAMS))


def _sorting(params: QueryParams, allowed: Mapping[str, object]) -> list[tuple[str, str]]:
    sort_by, sort_order = params.get("sortBy"), params.get("sortOrder")
    if sort_by is None and sort_order is None:
        return []
    if sort_by is None or sort_order is None:
        raise invalid_request(
            "Only a single sorting parameter specified. sortBy and sortOrder required"
        )
    if sort_by not in allowed:
        raise _bad("sortBy", sort_by)
    if sort_order not in ("asc", "desc"):
        raise _bad("sortOrder", sort_order)
    return [(sort_by, sort_order)]


def definition_sorting(params: QueryParams) -> list[tuple[str, str]]:
    return _sorting(params, DEFINITION_SORT_FIELDS)


def deployment_sorting(params: QueryParams) -> list[tuple[str, str]]:
    return _sorting(params, DEPLOYMENT_SORT_FIELDS)


def enabled(params: QueryParams, name: str) -> bool:
    """DeploymentResourceImpl#isQueryPropertyEnabled: the first value is exactly ``true``
    (case matters; anything else, or none, is false; never a 400)."""
    values = params.getlist(name)
    return bool(values) and values[0] == "true"
