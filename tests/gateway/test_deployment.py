"""POST /deployment/create (DeploymentRestServiceImpl) and the /deployment resource: multipart
rules, versions, duplicate filtering, tenants, ParseException bodies for invalid or hostile BPMN
(nothing stored), listing, and DELETE removing the definitions (with instances:
test_deployment_delete.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from redtask.broker.store import Store
from tests.conftest import FakeClock
from tests.gateway.helpers import API, START, error

FILES = Path(__file__).parents[1] / "broker" / "bpmn" / "files"
SIMPLE = (FILES / "simple.bpmn").read_bytes()
SIMPLE_V2 = SIMPLE.replace(b'name="Order"', b'name="Order v2"')
CREATE = f"{API}/deployment/create"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
NO_TOPIC = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="urn:t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:serviceTask id="no_topic" camunda:type="external" />
  </bpmn:process>
</bpmn:definitions>
"""
NO_TOPIC_MESSAGE = "External tasks must specify a 'topic' attribute in the camunda namespace"


async def deploy(
    client: httpx.AsyncClient, *resources: tuple[str, bytes], url: str = CREATE, **form: str
) -> httpx.Response:
    files = [(f"r{i}", (name, content)) for i, (name, content) in enumerate(resources)]
    return await client.post(url, files=files, data=form)


def definition_dto(**fields: Any) -> dict[str, Any]:
    """The DTO of simple.bpmn's definition; ``id`` and ``deploymentId`` are required."""
    return {
        "key": "order",
        "category": "http://bpmn.io/schema/bpmn",
        "description": "Charges the card.",  # the process's <documentation>
        "name": "Order",
        "version": 1,
        "resource": "simple.bpmn",
        "diagram": None,
        "suspended": False,
        "tenantId": None,
        "versionTag": "v1",
        "historyTimeToLive": 30,
        "startableInTasklist": True,
        **fields,
    }


async def stored_keys(store: Store) -> list[str]:
    return [k async for k in store.redis.scan_iter(match=f"*{store.settings.namespace}*")]


@pytest.mark.parametrize("prefix", [API, f"{API}/engine/default"])
async def test_deploying_a_process_answers_the_deployment_with_its_definition(client, prefix):
    response = await deploy(
        client,
        ("simple.bpmn", SIMPLE),
        url=f"{prefix}/deployment/create",
        **{"deployment-name": "orders", "deployment-source": "tests"},
    )
    assert response.status_code == 200
    body = response.json()
    deployment_id = body["id"]
    [definition_id] = body["deployedProcessDefinitions"]
    assert re.fullmatch(UUID, deployment_id) and re.fullmatch(f"order:1:{UUID}", definition_id)
    href = f"http://test{prefix}/deployment/{deployment_id}"
    link = {"method": "GET", "href": href, "rel": "self"}
    assert body == {
        "links": [link],
        "id": deployment_id,
        "name": "orders",
        "source": "tests",
        "deploymentTime": START,
        "tenantId": None,
        "deployedProcessDefinitions": {
            definition_id: definition_dto(id=definition_id, deploymentId=deployment_id)
        },
        "deployedCaseDefinitions": None,
        "deployedDecisionDefinitions": None,
        "deployedDecisionRequirementsDefinitions": None,
    }
    got = await client.get(f"{prefix}/deployment/{deployment_id}")
    assert got.json() == {
        "links": [], "id": deployment_id, "name": "orders", "source": "tests",
        "deploymentTime": START, "tenantId": None,
    }  # fmt: skip


async def test_redeploying_a_changed_process_creates_version_2(client, clock: FakeClock):
    await deploy(client, ("simple.bpmn", SIMPLE))
    clock.advance(1000)
    body = (await deploy(client, ("simple.bpmn", SIMPLE_V2))).json()
    [definition] = body["deployedProcessDefinitions"].values()
    assert (definition["version"], definition["name"]) == (2, "Order v2")
    assert definition["id"].startswith("order:2:")


async def test_duplicate_filtering_returns_the_existing_deployment_unchanged(client, store):
    form = {"deployment-name": "orders", "enable-duplicate-filtering": "true"}
    first = (await deploy(client, ("simple.bpmn", SIMPLE), **form)).json()
    keys = sorted(await stored_keys(store))
    again = await deploy(client, ("simple.bpmn", SIMPLE), **form)
    assert again.status_code == 200
    assert again.json() == {**first, "deployedProcessDefinitions": None}
    assert sorted(await stored_keys(store)) == keys
    changed = (await deploy(client, ("simple.bpmn", SIMPLE_V2), **form)).json()
    assert changed["id"] != first["id"]
    assert [d["version"] for d in changed["deployedProcessDefinitions"].values()] == [2]


async def test_deploy_changed_only_deploys_the_changed_resources(client):
    several = (FILES / "several_processes.bpmn").read_bytes()
    form = {"deployment-name": "n", "deploy-changed-only": "TRUE"}
    await deploy(client, ("simple.bpmn", SIMPLE), ("several.bpmn", several), **form)
    body = (
        await deploy(client, ("simple.bpmn", SIMPLE_V2), ("several.bpmn", several), **form)
    ).json()
    definitions = body["deployedProcessDefinitions"].values()
    assert [(d["key"], d["version"], d["resource"]) for d in definitions] == [
        ("order", 2, "simple.bpmn")
    ]


async def test_a_tenant_deployment_versions_its_own_definitions(client):
    await deploy(client, ("simple.bpmn", SIMPLE))
    body = (await deploy(client, ("simple.bpmn", SIMPLE), **{"tenant-id": "acme"})).json()
    [definition] = body["deployedProcessDefinitions"].values()
    assert (body["tenantId"], definition["tenantId"], definition["version"]) == ("acme", "acme", 1)


async def test_several_resources_are_stored_and_only_bpmn_gives_definitions(client):
    response = await deploy(
        client,
        ("several_processes.bpmn", (FILES / "several_processes.bpmn").read_bytes()),
        ("order.bpmn20.xml", SIMPLE),
        ("readme.txt", b"not a process"),
        ("order.xml", SIMPLE),  # neither .bpmn nor .bpmn20.xml: kept as a plain resource
    )
    definitions = response.json()["deployedProcessDefinitions"].values()
    assert [(d["key"], d["resource"]) for d in definitions] == [
        ("first", "several_processes.bpmn"),
        ("second", "several_processes.bpmn"),
        ("order", "order.bpmn20.xml"),
    ]
    only_text = await deploy(client, ("readme.txt", b"text"))
    assert only_text.status_code == 200 and only_text.json()["deployedProcessDefinitions"] is None


async def test_a_resource_part_needs_a_file_name(client, store):
    response = await client.post(CREATE, files=[("data", (None, SIMPLE))])
    assert (response.status_code, response.json()) == (
        400,
        error(
            "InvalidRequestException",
            "No file name found in the deployment resource described by form parameter 'null'.",
        ),
    )
    assert await stored_keys(store) == []


async def test_a_deployment_without_resources_is_refused(client):
    response = await client.post(CREATE, files=[("deployment-name", (None, b"orders"))])
    assert (response.status_code, response.json()) == (
        400,
        error("InvalidRequestException", "No deployment resources contained in the form upload."),
    )


def problem_dto(
    message: str,
    line: int,
    column: int = 0,
    element: str | None = None,
    ids: list[str] | None = None,
):
    """Under the names of Camunda <= 7.12 and of 7.13+ (whose getter starts with a Cyrillic e);
    ``ids`` (all the elements involved) default to ``element`` alone."""
    ids = ids if ids is not None else [element] if element else []
    return {"message": message, "line": line, "column": column, "mainBpmnElementId": element,
            "bpmnElementIds": ids, "mainElementId": element, "\u0435lementIds": ids}  # fmt: skip


async def test_invalid_bpmn_is_a_parse_exception_listing_every_problem(client, store):
    response = await deploy(client, ("ok.bpmn", SIMPLE), ("bad.bpmn", NO_TOPIC), ("m.bpmn", b"<a>"))
    malformed = "Malformed XML: Premature end of data in tag a line 1"
    assert (response.status_code, response.json()) == (
        400,
        {
            "type": "ParseException",
            "message": "ENGINE-09005 Could not parse BPMN process. Errors: \n"
            f"* {NO_TOPIC_MESSAGE} | resource bad.bpmn | line 5\n"
            "* process must define a startEvent element | resource bad.bpmn | line 4\n"
            f"* {malformed} | resource m.bpmn | line 1 | column 4",
            "code": 0,
            "details": {
                "bad.bpmn": {
                    "errors": [
                        problem_dto(NO_TOPIC_MESSAGE, 5, element="no_topic"),
                        problem_dto("process must define a startEvent element", 4, element="p"),
                    ],
                    "warnings": [],
                },
                "m.bpmn": {"errors": [problem_dto(malformed, 1, 4)], "warnings": []},
            },
        },
    )
    assert await stored_keys(store) == []


DOCTYPE = "DOCTYPE declarations are not allowed in BPMN resources"
HUGE = "The resource is 5242881 bytes long, more than the limit of 5242880 bytes"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("xxe.bpmn", (FILES / "xxe.bpmn").read_bytes(), DOCTYPE),
        ("billion_laughs.bpmn", (FILES / "billion_laughs.bpmn").read_bytes(), DOCTYPE),
        ("huge.bpmn", b" " * (5 * 1024 * 1024 + 1), HUGE),
    ],
    ids=["xxe", "billion-laughs", "huge"],
)
async def test_hostile_bpmn_is_refused_and_nothing_is_stored(client, store, name, content, message):
    response = await deploy(client, (name, content), ("simple.bpmn", SIMPLE))
    assert response.status_code == 400
    body = response.json()
    assert (body["type"], body["code"]) == ("ParseException", 0)
    assert [e["message"] for e in body["details"][name]["errors"]] == [message]
    assert await stored_keys(store) == []


def nested(depth: int) -> bytes:
    """A process whose XML elements nest ``depth`` levels deep, one opening tag per line (the
    element at level n is on line n)."""
    head = [
        '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">',
        '<process id="p" isExecutable="true"><startEvent id="s"/>',
    ]
    inner = ["<documentation>"] * (depth - 2)
    tail = "</documentation>" * (depth - 2) + "</process></definitions>"
    return "\n".join([*head, *inner, tail]).encode()


# (line, the elements involved, the problem) for each problem, in the order they are reported
DEEP = [(101, [], "XML elements are nested more than 100 levels deep")]
UNSUPPORTED = [
    (11, ["kitchen_sink"], "camunda:executionListener on 'kitchen_sink' is not supported"),
    (14, ["msg_start"], "attribute 'messageRef' is required"),
    (17, ["approve"], "Element 'approve' is a <userTask>, which is not supported"),
    (18, ["script"], "Element 'script' is a <scriptTask>, which is not supported"),
    (19, ["call"], "camunda:caseRef on 'call' is not supported"),
    (21, ["complex"], "Element 'complex' is a <complexGateway>, which is not supported"),
    (22, ["java"], "serviceTask 'java' is not supported: only camunda:type=\"external\" is"),
    (24, ["many"], "'many' has a <standardLoopCharacteristics>, which is not supported"),
    (36, ["compensation"], "Boundary event 'compensation' with compensateEventDefinition is not "
     "supported: only error, timer, message and signal are"),
    (39, ["scripted"], "Condition of sequence flow 'scripted' is a script: only ${...} is "
     "supported"),
]  # fmt: skip
BROKEN = [
    (16, ["no_topic"], NO_TOPIC_MESSAGE),
    (17, ["bad_priority"], "Value 'high' for attribute 'taskPriority' is not a valid number"),
    (20, ["wait"], "Invalid 'messageRef': no message with id 'Msg_missing' found."),
    (10, ["f_ghost_target"], "Invalid destination 'ghost' of sequence flow 'f_ghost_target'"),
    (11, ["f_ghost_source"], "Invalid source 'phantom' of sequence flow 'f_ghost_source'"),
    (21, ["f_bad_condition"], "Invalid condition of sequence flow 'f_bad_condition': Error "
     "parsing '${amount >}': unexpected '}' at position 10"),
    (24, ["f_literal_condition"], "Condition of sequence flow 'f_literal_condition' must be an "
     "expression ${...}, not 'true'"),
    (28, ["f_cross"], "Invalid destination 'inner_task' of sequence flow 'f_cross'"),
    (32, ["f_out"], "Invalid destination 'end' of sequence flow 'f_out'"),
    (12, ["gw", "f_elsewhere"], "Default flow 'f_elsewhere' of 'gw' is not an outgoing flow of "
     "it"),
    (18, ["lost"], "Invalid reference in boundary event. Make sure that the referenced activity "
     "is defined in the same scope as the boundary event"),
    (19, ["on_gateway"], "Boundary event 'on_gateway' is attached to 'gw' (a "
     "<exclusiveGateway>): only external tasks, sub-processes and call activities can be"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content", "problems"),
    [
        ("deep.bpmn", nested(101), DEEP),
        ("unsupported.bpmn", (FILES / "unsupported.bpmn").read_bytes(), UNSUPPORTED),
        ("broken.bpmn", (FILES / "broken_references.bpmn").read_bytes(), BROKEN),
    ],
    ids=["deeply-nested", "unsupported", "broken-references"],
)
async def test_refused_bpmn_names_each_element_and_problem_and_nothing_is_stored(
    client, store, name, content, problems
):
    response = await deploy(client, (name, content), ("simple.bpmn", SIMPLE))
    lines = "".join(
        f"\n* {message} | resource {name} | line {line}" for line, _, message in problems
    )
    errors = [
        problem_dto(message, line, element=ids[0] if ids else None, ids=ids)
        for line, ids, message in problems
    ]
    assert (response.status_code, response.json()) == (
        400,
        {
            "type": "ParseException",
            "message": f"ENGINE-09005 Could not parse BPMN process. Errors: {lines}",
            "code": 0,
            "details": {name: {"errors": errors, "warnings": []}},
        },
    )
    assert await stored_keys(store) == []  # not even simple.bpmn, deployed alongside


async def test_nesting_up_to_the_limit_deploys(client):
    response = await deploy(client, ("deep.bpmn", nested(100)))
    assert response.status_code == 200, response.text
    [definition] = response.json()["deployedProcessDefinitions"].values()
    assert (definition["key"], definition["version"]) == ("p", 1)


async def test_two_processes_with_one_key_in_a_deployment_are_refused(client, store):
    response = await deploy(client, ("a.bpmn", SIMPLE), ("b.bpmn", SIMPLE_V2))
    assert (response.status_code, response.json()) == (
        400,
        error(
            "ProcessEngineException",
            "The deployment contains definitions with the same key 'order' (id attribute), "
            "this is not allowed",
            0,
        ),
    )
    assert await stored_keys(store) == []


async def test_deployments_are_listed_counted_sorted_and_paged(client, clock: FakeClock):
    ids = []
    for name, tenant in (("b", None), ("a", "t1"), ("c", "t2")):
        form = {"deployment-name": name, **({"tenant-id": tenant} if tenant else {})}
        ids.append((await deploy(client, ("x.txt", b"x"), **form)).json()["id"])
        clock.advance(1000)
    listed = (await client.get(f"{API}/deployment")).json()
    assert [d["id"] for d in listed] == sorted(ids)  # Camunda's default order: by id
    by_name = await client.get(f"{API}/deployment", params={"sortBy": "name", "sortOrder": "desc"})
    assert [d["name"] for d in by_name.json()] == ["c", "b", "a"]
    page = await client.get(
        f"{API}/deployment",
        params={"sortBy": "deploymentTime", "sortOrder": "asc", "firstResult": 1, "maxResults": 1},
    )
    assert [d["name"] for d in page.json()] == ["a"]
    assert page.json()[0]["deploymentTime"] == "2023-11-14T22:13:21.000+0000"
    for params, count in (
        ({}, 3), ({"tenantIdIn": "t1,t2"}, 2), ({"withoutTenantId": "true"}, 1),
        ({"nameLike": "%b%"}, 1), ({"after": "2023-11-14T22:13:20.000+0000"}, 2),
        ({"tenantIdIn": "t1", "includeDeploymentsWithoutTenantId": "true"}, 2),
    ):  # fmt: skip
        got = await client.get(f"{API}/deployment/count", params=params)
        assert got.json() == {"count": count}, params
    bad = await client.get(f"{API}/deployment", params={"sortBy": "size", "sortOrder": "asc"})
    message = "Cannot set query parameter 'sortBy' to value 'size'"
    assert (bad.status_code, bad.json()) == (400, error("InvalidRequestException", message))


async def test_an_unknown_deployment_is_a_404(client):
    got = await client.get(f"{API}/deployment/nope")
    assert (got.status_code, got.json()) == (
        404,
        error("InvalidRequestException", "Deployment with id 'nope' does not exist"),
    )
    deleted = await client.delete(f"{API}/deployment/nope")
    assert (deleted.status_code, deleted.json()) == (
        404,
        error("InvalidRequestException", "Deployment with id 'nope' do not exist"),
    )


async def test_deleting_a_deployment_removes_its_definitions(client, store):
    body = (await deploy(client, ("simple.bpmn", SIMPLE))).json()
    [definition_id] = body["deployedProcessDefinitions"]
    deleted = await client.delete(f"{API}/deployment/{body['id']}", params={"cascade": "true"})
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert (await client.get(f"{API}/process-definition/{definition_id}")).status_code == 404
    assert (await client.get(f"{API}/process-definition/count")).json() == {"count": 0}
    assert (await client.get(f"{API}/deployment")).json() == []
    assert await stored_keys(store) == []
