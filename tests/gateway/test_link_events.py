"""Link events through the REST API: a flow into a throwing link event continues at the catching
one of the same name in its scope; neither is a historic activity (as in Camunda); a link
without a target, or two targets of one name, fail the deployment naming the element."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.gateway.call_helpers import activities, chain, history_state, process, task
from tests.gateway.constructs_helpers import API, start, work

MODELS = Path(__file__).resolve().parent / "bpmn" / "camunda_links"


def _throw(eid: str, name: str) -> str:
    return (
        f'<bpmn:intermediateThrowEvent id="{eid}"><bpmn:linkEventDefinition name="{name}" />'
        "</bpmn:intermediateThrowEvent>"
    )


def _catch(eid: str, name: str) -> str:
    return (
        f'<bpmn:intermediateCatchEvent id="{eid}"><bpmn:linkEventDefinition name="{name}" />'
        "</bpmn:intermediateCatchEvent>"
    )


async def _deploy(client: httpx.AsyncClient, name: str, content: bytes) -> httpx.Response:
    files = {"data": (name, content, "application/xml")}
    return await client.post(f"{API}/deployment/create", files=files)


async def test_camundas_valid_event_link_runs_to_the_end(client: httpx.AsyncClient) -> None:
    content = (MODELS / "LinkEventTest.testValidEventLink.bpmn").read_bytes()
    assert (await _deploy(client, "links.bpmn", content)).status_code == 200
    pi = await start(client, "linkEventValid")
    assert await activities(client, pi) == ["StartEvent_1", "waitAfterLink1…"]
    response = await client.post(f"{API}/execution/{pi}/signal", json={})
    assert response.status_code == 204, response.text
    assert await activities(client, pi) == ["StartEvent_1", "waitAfterLink1", "waitAfterLink2…"]
    response = await client.post(f"{API}/execution/{pi}/signal", json={})
    assert response.status_code == 204, response.text
    assert await history_state(client, pi) == "COMPLETED"
    # as Camunda's LinkEventTest: the link events are no historic activities
    assert await activities(client, pi) == [
        "StartEvent_1", "waitAfterLink1", "waitAfterLink2", "EndEvent_1"
    ]  # fmt: skip


async def test_links_in_a_sub_process_with_several_sources(client: httpx.AsyncClient) -> None:
    inner = (
        '<bpmn:startEvent id="ss" /><bpmn:parallelGateway id="fork" />'
        + _throw("to_a1", "A") + _throw("to_a2", "A") + _catch("from_a", "A")
        + task("work", "linked") + '<bpmn:endEvent id="se" />'
        + chain("ss", "fork", "to_a1") + chain("fork", "to_a2") + chain("from_a", "work", "se")
    )  # fmt: skip
    body = (
        f'<bpmn:startEvent id="s" /><bpmn:subProcess id="sub">{inner}</bpmn:subProcess>'
        + _throw("jump", "A") + _catch("land", "A") + '<bpmn:endEvent id="e" />'
        + chain("s", "sub", "jump") + chain("land", "e")
    )  # fmt: skip
    assert (await _deploy(client, "sub_links.bpmn", process("sub_links", body))).status_code == 200
    pi = await start(client, "sub_links")
    assert await work(client, ["linked"]) == ["work", "work"]
    assert await history_state(client, pi) == "COMPLETED"
    assert await activities(client, pi) == [
        "s", "sub", "ss", "fork", "work", "work", "se", "se", "e"
    ]  # fmt: skip


async def _refused(client: httpx.AsyncClient, content: bytes) -> list[dict[str, Any]]:
    response = await _deploy(client, "bad.bpmn", content)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "ParseException"
    return list(response.json()["details"]["bad.bpmn"]["errors"])


async def test_a_link_without_target_is_refused(client: httpx.AsyncClient) -> None:
    body = '<bpmn:startEvent id="s" />' + _throw("lost", "Nowhere") + _catch("elsewhere", "B")
    [error] = await _refused(client, process("no_target", body + chain("s", "lost")))
    assert error["mainElementId"] == "lost"
    assert error["message"] == (
        "sequence flow points to link event source with name 'Nowhere' but no event target "
        "with that name exists. Most probably your link events are not configured correctly."
    )


async def test_a_link_target_in_another_scope_does_not_count(client: httpx.AsyncClient) -> None:
    sub = '<bpmn:subProcess id="sub"><bpmn:startEvent id="ss" />' + _catch("inner", "A")
    body = '<bpmn:startEvent id="s" />' + _throw("outer", "A") + sub + "</bpmn:subProcess>"
    [error] = await _refused(client, process("other_scope", body + chain("s", "outer")))
    assert error["mainElementId"] == "outer"


async def test_two_targets_of_one_name_are_refused(client: httpx.AsyncClient) -> None:
    content = (MODELS / "LinkEventTest.testInvalidEventLinkMultipleTargets.bpmn").read_bytes()
    errors = await _refused(client, content)
    duplicate = [e for e in errors if "link event name" in e["message"]]
    assert duplicate == [
        {
            **duplicate[0],
            "message": "Multiple Intermediate Catch Events with the same link event name "
            "('LinkA') are not allowed.",
            "mainElementId": "IntermediateCatchEvent_2",
        }
    ]
