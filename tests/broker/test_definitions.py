"""Deployments and process definitions on a real Redis: all-or-nothing deploys, versions per key
and tenant, duplicate filtering, deletion, and the parsed-once model cache."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from redtask.broker import definition_reads
from redtask.broker import definitions as definitions_module
from redtask.broker.bpmn import Problem
from redtask.broker.definition_model import (
    DefinitionNotFound,
    Deployment,
    DeploymentNotFound,
    DeploymentParseError,
    DeploymentRequest,
    ProcessDefinition,
    Resource,
    changed_resources,
    definition_id,
)
from redtask.broker.definitions import Definitions
from redtask.broker.errors import InvalidArgument
from redtask.broker.store import Store
from tests.conftest import START_MS, FakeClock

FILES = Path(__file__).parent / "bpmn" / "files"
SIMPLE = (FILES / "simple.bpmn").read_bytes()
SIMPLE_V2 = SIMPLE.replace(b'name="Order"', b'name="Order v2"')
NO_TOPIC_MESSAGE = "External tasks must specify a 'topic' attribute in the camunda namespace"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
NO_TOPIC = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="urn:t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:serviceTask id="no_topic" camunda:type="external" />
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture
def defs(store: Store) -> Definitions:
    return store.definitions


def request(*resources: tuple[str, bytes], **options: object) -> DeploymentRequest:
    return DeploymentRequest([Resource(n, c) for n, c in resources], **options)  # type: ignore[arg-type]


async def namespace_keys(store: Store) -> list[str]:
    pattern = f"*{store.settings.namespace}*"
    return sorted([k async for k in store.redis.scan_iter(match=pattern)])


async def test_a_deployment_stores_its_resources_and_one_definition_per_process(
    defs: Definitions,
) -> None:
    result = await defs.deploy(request(("simple.bpmn", SIMPLE), name="orders", source="cli"))
    assert result.definitions is not None
    [definition] = result.definitions
    assert re.fullmatch(rf"order:1:{UUID}", definition.id)
    assert re.fullmatch(UUID, result.deployment.id)
    assert definition == ProcessDefinition(
        id=definition.id,
        key="order",
        version=1,
        resource="simple.bpmn",
        deployment_id=result.deployment.id,
        deploy_time=START_MS,
        name="Order",
        category="http://bpmn.io/schema/bpmn",
        tenant_id=None,
        version_tag="v1",
        history_time_to_live=30,
        activation_time=None,
        description="Charges the card.",
    )
    assert result.deployment == Deployment(
        id=result.deployment.id,
        name="orders",
        source="cli",
        tenant_id=None,
        deployment_time=START_MS,
        resources={"simple.bpmn": definitions_module.digest(SIMPLE)},
        definition_ids=(definition.id,),
    )
    assert await defs.definition(definition.id) == definition
    assert await defs.deployment(result.deployment.id) == result.deployment
    assert await defs.resource(result.deployment.id, "simple.bpmn") == SIMPLE
    assert await defs.xml(definition.id) == SIMPLE


async def test_every_executable_process_of_every_bpmn_resource_is_a_definition(
    defs: Definitions,
) -> None:
    notes = "réservé\n".encode("latin-1")  # not UTF-8: stored and returned byte for byte
    result = await defs.deploy(
        request(
            ("several_processes.bpmn", (FILES / "several_processes.bpmn").read_bytes()),
            ("simple.bpmn20.xml", SIMPLE),
            ("notes.txt", notes),
        )
    )
    assert result.definitions is not None
    assert [(d.key, d.version, d.resource) for d in result.definitions] == [
        ("first", 1, "several_processes.bpmn"),
        ("second", 1, "several_processes.bpmn"),
        ("order", 1, "simple.bpmn20.xml"),
    ]
    assert await defs.resource(result.deployment.id, "notes.txt") == notes
    assert await defs.resource(result.deployment.id, "missing.txt") is None


async def test_versions_increase_per_key_and_tenant(defs: Definitions, clock: FakeClock) -> None:
    first = await defs.deploy(request(("simple.bpmn", SIMPLE)))
    clock.advance(1000)
    second = await defs.deploy(request(("simple.bpmn", SIMPLE_V2)))
    tenant = await defs.deploy(request(("simple.bpmn", SIMPLE), tenant_id="acme"))
    assert [d.version for r in (first, second, tenant) for d in r.definitions or ()] == [1, 2, 1]
    latest = await defs.latest_by_key("order")
    assert latest is not None and second.definitions == (latest,)
    assert latest.name == "Order v2" and latest.deploy_time == START_MS + 1000
    acme = await defs.latest_by_key("order", "acme")
    assert acme is not None and (acme.version, acme.tenant_id) == (1, "acme")
    assert await defs.latest_by_key("order", "other") is None
    assert await defs.latest_by_key("nothing") is None


async def test_concurrent_deployments_of_one_key_get_distinct_versions(defs: Definitions) -> None:
    results = await asyncio.gather(
        *(defs.deploy(request(("simple.bpmn", SIMPLE))) for _ in range(8))
    )
    versions = sorted(d.version for r in results for d in r.definitions or ())
    assert versions == [1, 2, 3, 4, 5, 6, 7, 8]


async def test_duplicate_filtering_returns_the_existing_deployment_when_nothing_changed(
    defs: Definitions, store: Store
) -> None:
    first = await defs.deploy(request(("simple.bpmn", SIMPLE), name="orders"))
    keys_before = await namespace_keys(store)
    again = await defs.deploy(
        request(("simple.bpmn", SIMPLE), name="orders", duplicate_filtering=True)
    )
    assert again.deployment == first.deployment and again.definitions is None
    assert await namespace_keys(store) == keys_before
    changed = await defs.deploy(
        request(("simple.bpmn", SIMPLE_V2), name="orders", duplicate_filtering=True)
    )
    assert [d.version for d in changed.definitions or ()] == [2]


async def test_duplicate_filtering_compares_within_one_name_tenant_and_source(
    defs: Definitions,
) -> None:
    await defs.deploy(request(("simple.bpmn", SIMPLE), name="orders", source="a"))
    for options in (
        {"name": "other"},
        {"name": "orders", "tenant_id": "acme"},
        {"name": "orders", "source": "b"},
        {"name": None},  # no name: Camunda never finds a duplicate
    ):
        result = await defs.deploy(
            request(("simple.bpmn", SIMPLE), duplicate_filtering=True, **options)
        )
        assert result.definitions is not None and len(result.definitions) == 1, options


async def test_deploy_changed_only_deploys_only_the_changed_resources(defs: Definitions) -> None:
    several = (FILES / "several_processes.bpmn").read_bytes()
    await defs.deploy(request(("simple.bpmn", SIMPLE), ("several.bpmn", several), name="n"))
    result = await defs.deploy(
        request(("simple.bpmn", SIMPLE_V2), ("several.bpmn", several), name="n", changed_only=True)
    )
    assert list(result.deployment.resources) == ["simple.bpmn"]
    assert [(d.key, d.version) for d in result.definitions or ()] == [("order", 2)]
    assert await defs.resource(result.deployment.id, "several.bpmn") is None


async def test_invalid_bpmn_stores_nothing_and_lists_every_problem(
    defs: Definitions, store: Store
) -> None:
    with pytest.raises(DeploymentParseError) as caught:
        await defs.deploy(
            request(
                ("ok.bpmn", SIMPLE),
                ("bad.bpmn", NO_TOPIC),
                ("xxe.bpmn", (FILES / "xxe.bpmn").read_bytes()),
            )
        )
    assert caught.value.problems == {
        "bad.bpmn": (Problem(NO_TOPIC_MESSAGE, 6, 0, "no_topic", ("no_topic",)),),
        "xxe.bpmn": (Problem("DOCTYPE declarations are not allowed in BPMN resources"),),
    }
    assert str(caught.value) == (
        "ENGINE-09005 Could not parse BPMN process. Errors: \n"
        f"* {NO_TOPIC_MESSAGE} | resource bad.bpmn | line 6\n"
        "* DOCTYPE declarations are not allowed in BPMN resources | resource xxe.bpmn"
    )
    assert await namespace_keys(store) == []


async def test_two_processes_with_one_key_are_refused(defs: Definitions, store: Store) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await defs.deploy(request(("a.bpmn", SIMPLE), ("b.bpmn", SIMPLE_V2)))
    assert str(caught.value) == (
        "The deployment contains definitions with the same key 'order' (id attribute), "
        "this is not allowed"
    )
    assert await namespace_keys(store) == []


async def test_a_deployment_needs_resources(defs: Definitions) -> None:
    with pytest.raises(InvalidArgument, match=r"^No deployment resources contained to deploy\.$"):
        await defs.deploy(request())


async def test_deleting_a_deployment_removes_it_and_its_definitions(
    defs: Definitions, store: Store
) -> None:
    first = await defs.deploy(request(("simple.bpmn", SIMPLE), name="orders"))
    second = await defs.deploy(request(("simple.bpmn", SIMPLE_V2), name="orders"))
    [v2] = second.definitions or ()
    await defs.get_model(v2.id)
    await defs.delete_deployment(second.deployment.id)
    with pytest.raises(DeploymentNotFound):
        await defs.deployment(second.deployment.id)
    with pytest.raises(DefinitionNotFound):
        await defs.definition(v2.id)
    with pytest.raises(DefinitionNotFound):
        await defs.get_model(v2.id)
    assert await defs.latest_by_key("order") == (first.definitions or ())[0]
    assert [d.id for d in await defs.deployments()] == [first.deployment.id]
    await defs.delete_deployment(first.deployment.id)
    assert await namespace_keys(store) == []
    with pytest.raises(DeploymentNotFound, match="Deployment with id 'nope' does not exist"):
        await defs.delete_deployment("nope")
    # a deleted latest version is given again: Camunda versions from the definitions present
    again = await defs.deploy(request(("simple.bpmn", SIMPLE)))
    assert [d.version for d in again.definitions or ()] == [1]


async def test_get_model_parses_a_definition_once_per_process(
    defs: Definitions, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = await defs.deploy(
        request(("several.bpmn", (FILES / "several_processes.bpmn").read_bytes()))
    )
    first, second = result.definitions or ()
    calls: list[str] = []
    real = definition_reads.parse_bpmn

    def counting(data: bytes, name: str) -> object:
        calls.append(name)
        return real(data, name)

    monkeypatch.setattr(definition_reads, "parse_bpmn", counting)
    model = await defs.get_model(second.id)
    assert (model.key, model.resource_name) == ("second", "several.bpmn")
    assert await defs.get_model(second.id) is model
    assert await Definitions(defs.db, defs.keys).get_model(second.id) is model
    assert (await defs.get_model(first.id)).key == "first"
    assert calls == ["several.bpmn", "several.bpmn"]
    with pytest.raises(DefinitionNotFound, match=r"^No matching definition with id nope$"):
        await defs.get_model("nope")


async def test_an_activation_time_keeps_definitions_suspended_until_then(
    defs: Definitions, clock: FakeClock
) -> None:
    result = await defs.deploy(request(("simple.bpmn", SIMPLE), activation_time=START_MS + 500))
    [definition] = result.definitions or ()
    assert definition.suspended_at(clock()) is True
    assert definition.suspended_at(START_MS + 500) is False


def test_duplicate_filter_uses_the_newest_resource_of_each_name() -> None:
    def deployment(source: str | None, **resources: bytes) -> Deployment:
        hashes = {name: definitions_module.digest(c) for name, c in resources.items()}
        return Deployment("d", "n", source, None, 0, hashes)

    newest_first = [deployment(None, a=b"new"), deployment("x", b=b"b"), deployment(None, a=b"old")]
    resources = {"a": b"new", "b": b"b", "c": b"c"}
    # "b" was deployed from another source only; "c" never
    assert changed_resources(newest_first, None, resources) == {"b", "c"}
    assert changed_resources(newest_first, "x", resources) == {"c"}


def test_definition_ids_longer_than_64_characters_keep_only_the_generated_part() -> None:
    assert definition_id("order", 3, "g") == "order:3:g"
    assert definition_id("k" * 60, 1, "generated") == "generated"
