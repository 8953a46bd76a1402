"""Multi-instance activities through the REST API, the hard cases: refused inputs (Camunda's
messages, answered 400), Camunda's own multi-instance test models, and a fan-out of 200 tasks
completed by 4 workers in their own OS processes at once."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import httpx
import pytest

from redtask.broker.engine.loops import MAX_INSTANCES
from redtask.broker.store import Store, wall_clock_ms
from tests.broker.engine.loop_models import loop, mi_xml
from tests.gateway.constructs_helpers import (
    API,
    OWN_FILES,
    act,
    assert_ended,
    fetch,
    start,
    typed_map,
    work,
)
from tests.gateway.mi_helpers import BODY, activities, body_of, deploy_mi, deploy_xml, shape
from tests.gateway.mi_workers import complete_until_idle

BAD_STARTS = {
    "negative": (
        loop(cardinality="${n}"),
        {"n": -2},
        "ENGINE-02023 Invalid number of 'instances': must be positive integer value or zero, "
        "but was '-2'.",
    ),
    "not a number": (
        loop(cardinality="${n}"),
        {"n": "lots"},
        'For input string: "lots"',
    ),
    "missing collection": (
        loop(collection="items", element="item"),
        {},
        "ENGINE-02025 Variable 'items' is not of the expected type 'Collection'.",
    ),
    "collection not a list": (
        loop(collection="items", element="item"),
        {"items": "a,b"},
        "ENGINE-02025 Variable 'items' is not of the expected type 'Collection'.",
    ),
    "past the limit": (
        loop(cardinality="${n}"),
        {"n": MAX_INSTANCES + 1},
        f"Multi-instance activity 'work' would start {MAX_INSTANCES + 1} instances, more than "
        f"the limit of {MAX_INSTANCES}",
    ),
}


@pytest.mark.parametrize("characteristics, variables, message", BAD_STARTS.values(), ids=BAD_STARTS)
async def test_a_bad_count_refuses_the_start(
    client: httpx.AsyncClient, characteristics: str, variables: dict[str, Any], message: str
) -> None:
    definition = await deploy_mi(client, characteristics)
    response = await client.post(
        f"{API}/process-definition/key/mi/start", json={"variables": typed_map(variables)}
    )
    assert response.status_code == 400, response.text
    assert response.json() == {
        "type": "RestException",
        "message": f"Cannot instantiate process definition {definition}: {message}",
        "code": 0,
    }
    listed = await client.get(f"{API}/process-instance/count")
    assert listed.json() == {"count": 0}  # nothing was stored
    assert await fetch(client, ["work", "after"]) == []


async def test_a_completion_condition_that_is_no_boolean_refuses_the_completion(
    client: httpx.AsyncClient,
) -> None:
    await deploy_mi(client, loop(cardinality="2", condition="${nrOfInstances}"))
    pi = await start(client, "mi")
    first, second = await fetch(client, ["work"])
    response = await client.post(
        f"{API}/external-task/{first['id']}/complete", json={"workerId": "w"}
    )
    assert response.status_code == 400, response.text
    assert response.json() == {
        "type": "ProcessEngineException",
        "message": "ENGINE-02028 Could not resolve expression of type 'completionCondition'. "
        "Expression '${nrOfInstances}' needs to evaluate to a boolean value.",
        "code": 0,
    }
    kept = await client.get(f"{API}/external-task", params={"processInstanceId": pi})
    assert sorted(t["id"] for t in kept.json()) == sorted([first["id"], second["id"]])


async def test_a_model_without_a_count_is_refused_at_deployment(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/deployment/create",
        data={"deployment-name": "mi"},
        files={"data": ("mi.bpmn", mi_xml(loop()), "application/xml")},
    )
    assert response.status_code == 400, response.text
    assert (
        "Either loopCardinality or loopDataInputRef/activiti:collection must be set"
        in (response.json()["message"])
    )


# Camunda's own models ------------------------------------------------------------------------


async def camunda_model(client: httpx.AsyncClient, name: str) -> None:
    await deploy_xml(client, (OWN_FILES / f"{name}.bpmn").read_bytes(), name)


async def test_camunda_parallel_receive_tasks(client: httpx.AsyncClient) -> None:
    """MultiInstanceTest#testParallelReceiveTasks: three receive tasks wait for one message."""
    await camunda_model(client, "MultiInstanceTest.testParallelReceiveTasks")
    pi = await start(client, "miParallelReceiveTasks")
    waiting = shape(await activities(client, pi))
    assert (
        waiting[1:]
        == [(BODY.replace("work", "miTasks"), "process", "running", False, False)]
        + [("miTasks", BODY.replace("work", "miTasks"), "running", False, False)] * 3
    )
    response = await client.post(
        f"{API}/message", json={"messageName": "message", "processInstanceId": pi, "all": True}
    )
    assert response.status_code == 204, response.text
    await assert_ended(client, pi, "COMPLETED")


@pytest.mark.parametrize("kind", ["Parallel", "Sequential"])
async def test_camunda_multi_instance_sub_process_history(
    client: httpx.AsyncClient, kind: str
) -> None:
    """HistoricActivityInstanceStateTest#test{Parallel,Sequential}MultiInstanceSubProcess: the
    instance runs to its end at once; every instance of the sub-process and its end event
    complete their scope, the body does not."""
    await camunda_model(
        client, f"HistoricActivityInstanceStateTest.test{kind}MultiInstanceSubProcess"
    )
    pi = await start(client, "process")
    await assert_ended(client, pi, "COMPLETED")
    found = await activities(client, pi)
    body = body_of(found, "intermediateSubprocess#multiInstanceBody")
    assert not body["completeScope"] and not body["canceled"]
    completing = Counter(a["activityId"] for a in found if a["completeScope"])
    assert completing == {"intermediateSubprocess": 3, "subprocessEnd": 3, "end": 1}
    assert not any(a["canceled"] for a in found)
    assert len(found) == 12  # start, body, 3 x (sub-process, its start, its end), end


# contention -----------------------------------------------------------------------------------

FAN_OUT = 200
WORKERS = 4


async def test_four_workers_complete_a_fan_out_of_200_exactly_once(
    client: httpx.AsyncClient, store: Store, store_url: str
) -> None:
    store.clock = wall_clock_ms
    exits = (
        f"${{nrOfCompletedInstances == {FAN_OUT}}}",
        f"${{nrOfCompletedInstances != {FAN_OUT}}}",
    )
    await deploy_mi(client, loop(cardinality=str(FAN_OUT)), exits=exits)
    pi = await start(client, "mi")
    listed = await client.get(f"{API}/external-task", params={"processInstanceId": pi})
    created = {t["id"] for t in listed.json()}
    assert len(created) == FAN_OUT
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(WORKERS, mp_context=ctx) as pool:
        futures = [
            pool.submit(
                complete_until_idle,
                store_url,
                store.settings.namespace,
                store.keys.partitions,
                f"worker-{n}",
                "work",
            )
            for n in range(WORKERS)
        ]
        results = [f.result(timeout=240) for f in futures]
    assert [errors for _, errors in results] == [[]] * WORKERS  # no InstanceBusy, no refusal
    done = [task for completed, _ in results for task in completed]
    assert len(done) == FAN_OUT and set(done) == created  # each completed exactly once
    assert sum(1 for completed, _ in results if completed) > 1  # the workers shared the work
    await assert_ended(client, pi, "COMPLETED")
    found = shape(await activities(client, pi))
    assert found.count(("work", BODY, "ended", False, True)) == FAN_OUT
    assert [a for a in found if a[0] != "work"] == [
        ("start", "process", "ended", False, False),
        (BODY, "process", "ended", False, False),
        ("exit0", "process", "ended", False, True),  # nrOfCompletedInstances == 200
    ]
    assert await work(client, ["work", "after"]) == []


async def test_output_mappings_run_per_instance(client: httpx.AsyncClient) -> None:
    io = '<camunda:outputParameter name="last">${loopCounter}</camunda:outputParameter>'
    await deploy_mi(client, loop(sequential=True, cardinality="2"), io=io)
    pi = await start(client, "mi")
    for _ in range(2):
        [task] = await fetch(client, ["work"])
        await act(client, task, ("complete", {}, None))
    [after] = await fetch(client, ["after"])
    assert after["variables"]["last"]["value"] == 1
    await act(client, after, ("complete", {}, None))
    await assert_ended(client, pi, "COMPLETED")
