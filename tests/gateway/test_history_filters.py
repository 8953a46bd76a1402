"""GET and POST /history/process-instance (+ /count): the filters and sortings of Camunda's
HistoricProcessInstanceQueryDto beyond the basic ones of test_history.py, one case per filter,
and the fields startActivityId and deleteReason of deployed definitions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from redtask.broker.model import TopicRequest
from redtask.broker.store import Store
from tests.conftest import FakeClock
from tests.gateway.helpers import API, error

HPI = f"{API}/history/process-instance"


def one_task_process(key: str, name: str, start: str, task: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="d_{key}" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{key}" name="{name}" isExecutable="true">
    <bpmn:startEvent id="{start}" />
    <bpmn:sequenceFlow id="f0" sourceRef="{start}" targetRef="{task}" />
    <bpmn:serviceTask id="{task}" camunda:type="external" camunda:topic="{task}" />
    <bpmn:sequenceFlow id="f1" sourceRef="{task}" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>""".encode()


async def deploy(client: httpx.AsyncClient, content: bytes, tenant: str | None = None) -> str:
    data = {"deployment-name": "history-filters", **({"tenant-id": tenant} if tenant else {})}
    response = await client.post(
        f"{API}/deployment/create", data=data, files={"data": ("p.bpmn", content, "text/xml")}
    )
    assert response.status_code == 200, response.text
    [definition_id] = response.json()["deployedProcessDefinitions"]
    return str(definition_id)


async def start(
    client: httpx.AsyncClient, definition_id: str, business_key: str | None, amount: int, city: str
) -> str:
    variables = {
        "amount": {"type": "Integer", "value": amount},
        "city": {"type": "String", "value": city},
    }
    body: dict[str, Any] = {"variables": variables}
    if business_key is not None:
        body["businessKey"] = business_key
    response = await client.post(f"{API}/process-definition/{definition_id}/start", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def task_of(store: Store, topic: str, instance_id: str) -> Any:
    tasks = await store.fetch_and_lock("w", 10, [TopicRequest(topic, 60_000)])
    [task] = [t for t in tasks if t.process_instance_id == instance_id]
    return task


@pytest.fixture
async def four(client: httpx.AsyncClient, store: Store, clock: FakeClock) -> dict[str, Any]:
    """a: "Order handling" v2, A-1, running at charge with an incident ("card declined");
    b: "Order handling" v1, A-2, completed; c: "Refund" of tenant t1, R-1, running at refund;
    d: "Order handling" v2, no business key, deleted. Amounts 10, 20, 30, 40; cities Berlin,
    Bonn, Paris, Rome."""
    v1 = await deploy(client, one_task_process("orders", "Order handling", "received", "charge"))
    b = await start(client, v1, "A-2", 20, "Bonn")
    await store.complete((await task_of(store, "charge", b)).id, "w")
    clock.advance(1000)
    v2 = await deploy(client, one_task_process("orders", "Order handling", "placed", "charge"))
    refunds = one_task_process("refunds", "Refund", "requested", "refund")
    r1 = await deploy(client, refunds, tenant="t1")
    a = await start(client, v2, "A-1", 10, "Berlin")
    failing = await task_of(store, "charge", a)
    await store.handle_failure(failing.id, "w", "card declined", None, 0, 0)
    c = await start(client, r1, "R-1", 30, "Paris")
    d = await start(client, v2, None, 40, "Rome")
    assert (await client.delete(f"{API}/process-instance/{d}")).status_code == 204
    [incident] = await store.incidents()
    return {"a": a, "b": b, "c": c, "d": d, "incident": incident.id, "v1": v1, "v2": v2}


async def ids(client: httpx.AsyncClient, four: dict[str, Any], params: Any) -> str:
    """The names (a-d) of the instances a GET answers, in its order; checks /count too."""
    names = {four[n]: n for n in "abcd"}
    response = await client.get(HPI, params=params)
    assert response.status_code == 200, response.text
    found = "".join(names[i["id"]] for i in response.json())
    count = await client.get(f"{HPI}/count", params=params)
    assert count.json() == {"count": len(found)}
    return found


def by_id(four: dict[str, Any], names: str) -> str:
    return "".join(sorted(names, key=lambda n: four[n]))  # Camunda's default order


FILTERS = [
    ({"processDefinitionKeyIn": "refunds,other"}, "c"),
    ({"processDefinitionKeyNotIn": "refunds"}, "abd"),
    ({"processDefinitionName": "Refund"}, "c"),
    ({"processDefinitionName": "Nothing"}, ""),
    ({"processDefinitionNameLike": "Order%"}, "abd"),
    ({"processInstanceBusinessKeyIn": "A-1,R-1"}, "ac"),
    ({"processInstanceBusinessKeyLike": "A-%"}, "ab"),
    ({"withIncidents": "true"}, "a"),
    ({"withIncidents": "false"}, "abcd"),
    ({"withRootIncidents": "true"}, "a"),
    ({"incidentType": "failedExternalTask"}, "a"),
    ({"incidentType": "failedJob"}, ""),
    ({"incidentStatus": "open"}, "a"),
    ({"incidentMessage": "card declined"}, "a"),
    ({"incidentMessage": "card"}, ""),
    ({"incidentMessageLike": "%declined"}, "a"),
    ({"withoutTenantId": "true"}, "abd"),
    ({"tenantIdIn": "t1"}, "c"),
    ({"activityIdIn": "refund"}, "c"),
    ({"activityIdIn": "charge,refund"}, "ac"),
    ({"activeActivityIdIn": "charge"}, "a"),
    ({"activityIdIn": "charge", "activeActivityIdIn": "refund"}, ""),
    ({"variables": "city_like_B%"}, "ab"),
    ({"variables": "city_eq_Rome"}, "d"),  # the variables of an ended instance are kept
    ({"variables": "city_neq_Rome,city_like_%s"}, "c"),
    ({"variables": "amount_eq_40"}, ""),  # GET values are Strings: an Integer never equals one
    ({"variables": "CITY_eq_Paris"}, ""),
    ({"variables": "CITY_eq_Paris", "variableNamesIgnoreCase": "true"}, "c"),
    ({"variables": "city_eq_paris"}, ""),
    ({"variables": "city_eq_paris", "variableValuesIgnoreCase": "true"}, "c"),
    ({"rootProcessInstances": "true"}, "abcd"),
    ({"superProcessInstanceId": "x"}, ""),
    ({"subProcessInstanceId": "x"}, ""),
    ({"caseInstanceId": "x"}, ""),
    ({"startedBy": "demo"}, ""),
    ({"completed": "true", "processDefinitionKey": "orders"}, "b"),
    ({"externallyTerminated": "true"}, "d"),
]


@pytest.mark.parametrize(("params", "names"), FILTERS, ids=[str(p) for p, _ in FILTERS])
async def test_get_filter(client: httpx.AsyncClient, four, params, names) -> None:
    assert await ids(client, four, params) == by_id(four, names)


async def test_incident_id_in(client: httpx.AsyncClient, four) -> None:
    assert await ids(client, four, {"incidentIdIn": f"{four['incident']},other"}) == "a"
    assert await ids(client, four, {"incidentIdIn": "other"}) == ""


async def test_process_definition_id(client: httpx.AsyncClient, four) -> None:
    assert await ids(client, four, {"processDefinitionId": four["v1"]}) == "b"


async def test_post_variables_compare_typed_values(client: httpx.AsyncClient, four) -> None:
    conditions = [{"name": "amount", "operator": "gteq", "value": 20}]
    response = await client.post(HPI, json={"variables": conditions})
    assert [i["id"] for i in response.json()] == sorted(four[n] for n in "bcd")
    conditions.append({"name": "amount", "operator": "lt", "value": 40})
    assert (await client.post(f"{HPI}/count", json={"variables": conditions})).json() == {
        "count": 2
    }


@pytest.mark.parametrize(
    ("sort_by", "order", "groups"),
    [
        ("definitionName", "asc", ("abd", "c")),  # "Order handling" before "Refund"
        ("definitionName", "desc", ("c", "abd")),
        ("definitionVersion", "desc", ("ad", "bc")),  # orders v2; orders v1 and refunds v1
        ("definitionVersion", "asc", ("bc", "ad")),
    ],
)
async def test_sort_by_definition(client: httpx.AsyncClient, four, sort_by, order, groups) -> None:
    """Ties keep Camunda's default order (by id)."""
    expected = "".join(by_id(four, group) for group in groups)
    assert await ids(client, four, {"sortBy": sort_by, "sortOrder": order}) == expected
    sorting = [{"sortBy": sort_by, "sortOrder": order}]
    response = await client.post(HPI, params={"maxResults": 2}, json={"sorting": sorting})
    assert [i["id"] for i in response.json()] == [four[n] for n in expected[:2]]


async def test_post_query_and_count(client: httpx.AsyncClient, four) -> None:
    body = {
        "processDefinitionKeyIn": ["orders"],
        "finished": True,
        "startedAfter": "2023-11-14T22:13:20.000+0000",
        "finishedBefore": "2023-11-14T22:13:21.000+0000",
        "sorting": [{"sortBy": "startTime", "sortOrder": "desc"}],
    }
    response = await client.post(HPI, json=body)
    assert [i["id"] for i in response.json()] == [four["d"], four["b"]]
    response = await client.post(HPI, params={"firstResult": 1}, json=body)
    assert [i["id"] for i in response.json()] == [four["b"]]
    count = await client.post(f"{HPI}/count", json=body)
    assert count.json() == {"count": 2}
    variables = {"variables": [{"name": "amount", "operator": "gt", "value": 15}]}
    response = await client.post(HPI, json={**variables, "withIncidents": True})
    assert response.json() == []
    assert (await client.post(f"{HPI}/count", json={})).json() == {"count": 4}


async def test_start_activity_and_delete_reason(client: httpx.AsyncClient, four) -> None:
    """startActivityId: the start event of the instance's definition version; deleteReason
    null for completed and for deleted instances (the REST delete gives no reason)."""
    expected = {
        "a": ("placed", "ACTIVE"),
        "b": ("received", "COMPLETED"),
        "c": ("requested", "ACTIVE"),
        "d": ("placed", "EXTERNALLY_TERMINATED"),
    }
    for name, (start_activity, state) in expected.items():
        body = (await client.get(f"{HPI}/{four[name]}")).json()
        assert (body["startActivityId"], body["state"], body["deleteReason"]) == (
            start_activity,
            state,
            None,
        )
    listed = {i["id"]: i["startActivityId"] for i in (await client.get(HPI)).json()}
    assert listed == {four[n]: s for n, (s, _) in expected.items()}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"withIncidents": "yes"}, "Cannot set query parameter 'withIncidents' to value 'yes'"),
        ({"withoutTenantId": "1"}, "Cannot set query parameter 'withoutTenantId' to value '1'"),
        ({"finishedAfter": "later"}, "Cannot set query parameter 'finishedAfter' to value 'later'"),
        ({"variables": "amount_gt"}, "Cannot set query parameter 'variables' to value 'amount_gt'"),
        ({"variables": "amount_near_4"}, "Invalid variable comparator specified: near"),
        (
            {"executedActivityIdIn": "charge"},
            "redtask does not support the historic process instance filter 'executedActivityIdIn'",
        ),
        (
            {"executedJobAfter": "2023-11-14T22:13:20.000+0000"},
            "redtask does not support the historic process instance filter 'executedJobAfter'",
        ),
        (
            {"incidentStatus": "resolved"},
            "redtask does not support the historic process instance filter "
            "'incidentStatus=resolved'",
        ),
        (
            {"sortBy": "definitionName"},
            "Only a single sorting parameter specified. sortBy and sortOrder required",
        ),
    ],
)
async def test_bad_or_unsupported_filters_are_400(
    client: httpx.AsyncClient, params, message
) -> None:
    urls = (HPI,) if "sortBy" in params else (HPI, f"{HPI}/count")
    for url in urls:
        response = await client.get(url, params=params)
        expected = error("InvalidRequestException", message)
        assert (response.status_code, response.json()) == (400, expected), url


async def test_post_bad_or_unsupported_filters_are_400(client: httpx.AsyncClient) -> None:
    response = await client.post(HPI, json={"orQueries": [{"processDefinitionKey": "orders"}]})
    expected = error(
        "InvalidRequestException",
        "redtask does not support the historic process instance filter 'orQueries'",
    )
    assert (response.status_code, response.json()) == (400, expected)
    response = await client.post(f"{HPI}/count", json={"withIncidents": "maybe"})
    assert (response.status_code, response.json()) == (400, error("InvalidRequestException", ""))
    response = await client.post(HPI, json={"sorting": [{"sortBy": "x", "sortOrder": "asc"}]})
    expected = error("InvalidRequestException", "Cannot set query parameter 'sortBy' to value 'x'")
    assert (response.status_code, response.json()) == (400, expected)
