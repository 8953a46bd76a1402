"""GET /process-definition (ProcessDefinitionRestServiceImpl, ProcessDefinitionDto): by id, by key
(latest version, with and without tenant), the BPMN XML, and the list and count with filters,
sorting and paging."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import FakeClock
from tests.gateway.helpers import API, error
from tests.gateway.test_deployment import SIMPLE, SIMPLE_V2, definition_dto, deploy

FILES = Path(__file__).parents[1] / "broker" / "bpmn" / "files"
PD = f"{API}/process-definition"
SEVERAL = (FILES / "several_processes.bpmn").read_bytes()


async def deployed(client: httpx.AsyncClient, *resources: tuple[str, bytes], **form: str):
    body = (await deploy(client, *resources, **form)).json()
    return list(body["deployedProcessDefinitions"].values())


@pytest.fixture
async def catalogue(client, clock: FakeClock) -> dict[str, dict]:
    """order v1 and v2 (no tenant), order v1 for tenant acme, first and second (one resource)."""
    [v1] = await deployed(client, ("simple.bpmn", SIMPLE), **{"deployment-name": "a"})
    clock.advance(1000)
    [v2] = await deployed(client, ("simple.bpmn", SIMPLE_V2), **{"deployment-name": "b"})
    clock.advance(1000)
    [acme] = await deployed(client, ("simple.bpmn", SIMPLE), **{"tenant-id": "acme"})
    clock.advance(1000)
    first, second = await deployed(client, ("several.bpmn", SEVERAL))
    return {"v1": v1, "v2": v2, "acme": acme, "first": first, "second": second}


@pytest.mark.parametrize("prefix", [API, f"{API}/engine/default"])
async def test_a_definition_is_read_by_id(client, catalogue, prefix):
    v2 = catalogue["v2"]
    got = await client.get(f"{prefix}/process-definition/{v2['id']}")
    assert got.status_code == 200
    assert got.json() == definition_dto(
        id=v2["id"], deploymentId=v2["deploymentId"], version=2, name="Order v2"
    )


async def test_an_unknown_definition_id_is_a_404(client):
    for path in ("nope", "nope/xml"):
        got = await client.get(f"{PD}/{path}")
        assert (got.status_code, got.json()) == (
            404,
            error("InvalidRequestException", "No matching definition with id nope", 0),
        )


async def test_the_xml_of_a_definition_is_its_resource(client, catalogue):
    v2 = catalogue["v2"]
    got = await client.get(f"{PD}/{v2['id']}/xml")
    assert got.json() == {"id": v2["id"], "bpmn20Xml": SIMPLE_V2.decode()}
    by_key = await client.get(f"{PD}/key/second/xml")
    assert by_key.json() == {"id": catalogue["second"]["id"], "bpmn20Xml": SEVERAL.decode()}
    tenant = await client.get(f"{PD}/key/order/tenant-id/acme/xml")
    assert tenant.json() == {"id": catalogue["acme"]["id"], "bpmn20Xml": SIMPLE.decode()}


async def test_by_key_is_the_latest_version_without_tenant(client, catalogue):
    got = await client.get(f"{PD}/key/order")
    assert got.json()["id"] == catalogue["v2"]["id"]
    tenant = await client.get(f"{PD}/key/order/tenant-id/acme")
    assert (tenant.json()["id"], tenant.json()["tenantId"]) == (catalogue["acme"]["id"], "acme")


async def test_an_unknown_key_is_a_404_rest_exception(client, catalogue):
    await deployed(client, ("other.bpmn", SIMPLE.replace(b'id="order"', b'id="solo"')),
                   **{"tenant-id": "acme"})  # fmt: skip
    for path, message in (
        ("key/nope", "No matching process definition with key: nope and no tenant-id"),
        ("key/solo", "No matching process definition with key: solo and no tenant-id"),
        ("key/solo/xml", "No matching process definition with key: solo and no tenant-id"),
        (
            "key/order/tenant-id/other",
            "No matching process definition with key: order and tenant-id: other",
        ),
    ):
        got = await client.get(f"{PD}/{path}")
        assert (got.status_code, got.json()) == (404, error("RestException", message)), path


async def test_the_list_is_by_id_and_filters_like_camunda(client, catalogue):
    ids = {name: d["id"] for name, d in catalogue.items()}
    listed = await client.get(PD)
    assert [d["id"] for d in listed.json()] == sorted(ids.values())
    cases = {
        "key=order": ["v1", "v2", "acme"],
        "keysIn=first,second": ["first", "second"],
        "keyLike=%25ord%25": ["v1", "v2", "acme"],
        "latestVersion=true": ["v2", "acme", "first", "second"],
        "latestVersion=false": list(ids),
        "version=2": ["v2"],
        "name=Order v2": ["v2"],
        "nameLike=Order%25": ["v1", "v2", "acme"],
        "resourceName=several.bpmn": ["first", "second"],
        "resourceNameLike=simple%25": ["v1", "v2", "acme"],
        f"deploymentId={catalogue['v1']['deploymentId']}": ["v1"],
        f"processDefinitionIdIn={ids['v1']},{ids['first']}": ["v1", "first"],
        "tenantIdIn=acme": ["acme"],
        "withoutTenantId=true": ["v1", "v2", "first", "second"],
        "tenantIdIn=acme&includeProcessDefinitionsWithoutTenantId=true": list(ids),
        "versionTag=v1": ["v1", "v2", "acme"],
        "withoutVersionTag=true": ["first", "second"],
        "category=http://bpmn.io/schema/bpmn": list(ids),
        "deployedAfter=2023-11-14T22:13:21.000%2B0000": ["acme", "first", "second"],
        "deployedAt=2023-11-14T22:13:21.000%2B0000": ["v2"],
        "active=true": list(ids),
        "suspended=true": [],
        "notStartableInTasklist=true": [],
    }
    for query, names in cases.items():
        got = await client.get(f"{PD}?{query}")
        assert sorted(d["id"] for d in got.json()) == sorted(ids[n] for n in names), query
        count = await client.get(f"{PD}/count?{query}")
        assert count.json() == {"count": len(names)}, query


async def test_the_list_sorts_and_pages(client, catalogue):
    params = {"sortBy": "version", "sortOrder": "desc", "maxResults": "2"}
    got = await client.get(PD, params=params)
    assert [d["version"] for d in got.json()] == [2, 1]
    params = {"sortBy": "tenantId", "sortOrder": "asc", "firstResult": "0", "maxResults": "1"}
    assert [d["tenantId"] for d in (await client.get(PD, params=params)).json()] == ["acme"]
    params = {"sortBy": "deployTime", "sortOrder": "desc", "firstResult": "3"}
    by_time = (await client.get(PD, params=params)).json()
    assert [d["id"] for d in by_time] == [catalogue["v2"]["id"], catalogue["v1"]["id"]]
    names = (await client.get(PD, params={"sortBy": "key", "sortOrder": "asc"})).json()
    assert [d["key"] for d in names] == ["first", "order", "order", "order", "second"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sortBy=size&sortOrder=asc", "Cannot set query parameter 'sortBy' to value 'size'"),
        ("sortBy=key&sortOrder=up", "Cannot set query parameter 'sortOrder' to value 'up'"),
        ("sortBy=key", "Only a single sorting parameter specified. sortBy and sortOrder required"),
        ("version=two", "Cannot set query parameter 'version' to value 'two'"),
        ("latestVersion=yes", "Cannot set query parameter 'latestVersion' to value 'yes'"),
        ("deployedAfter=today", "Cannot set query parameter 'deployedAfter' to value 'today'"),
        ("maxResults=many", "Cannot set query parameter 'maxResults' to value 'many'"),
    ],
)
async def test_bad_query_parameters_are_400s(client, query, message):
    got = await client.get(f"{PD}?{query}")
    assert (got.status_code, got.json()) == (400, error("InvalidRequestException", message))


async def test_definitions_stay_suspended_until_the_activation_time(client, clock: FakeClock):
    form = {"deployment-activation-time": "2023-11-14T22:13:21.000+0000"}
    [definition] = await deployed(client, ("simple.bpmn", SIMPLE), **form)
    assert definition["suspended"] is True
    assert (await client.get(f"{PD}/count?suspended=true")).json() == {"count": 1}
    clock.advance(1000)
    assert (await client.get(f"{PD}/{definition['id']}")).json()["suspended"] is False
    assert (await client.get(f"{PD}/count?active=true")).json() == {"count": 1}
