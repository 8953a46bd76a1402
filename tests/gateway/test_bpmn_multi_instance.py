"""Multi-instance activities end to end through the REST API: parallel and sequential external
tasks and sub-processes, cardinality, collection and element variable, completion conditions,
an error caught on the activity and no instances at all; each checked by what workers fetch,
the historic activity instances and how the instance ends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.broker.engine.loop_models import loop
from tests.gateway.constructs_helpers import (
    API,
    act,
    assert_ended,
    assert_gone,
    completing,
    fetch,
    plain,
    start,
    variables,
    work,
)
from tests.gateway.mi_helpers import BODY, activities, body_of, deploy_mi, shape, tree

ENDED = ("ended", False, False)  # (state, canceled, completeScope) of an ordinary activity
DONE = ("ended", False, True)  # an instance that completed: it completes its scope


def counters(task: dict[str, Any]) -> tuple[int, ...]:
    seen = plain(task["variables"])
    names = ("loopCounter", "nrOfInstances", "nrOfActiveInstances", "nrOfCompletedInstances")
    return tuple(seen[n] for n in names)


async def test_parallel_task_over_a_collection(client: httpx.AsyncClient) -> None:
    definition = await deploy_mi(client, loop(collection="items", element="item"))
    pi = await start(client, "mi", {"items": ["a", "b", "c"]})
    statistics = await client.get(f"{API}/process-definition/{definition}/statistics")
    assert [(s["id"], s["instances"]) for s in statistics.json()] == [("work", 3)]  # no body
    tasks = await fetch(client, ["work"])
    tasks.sort(key=lambda t: plain(t["variables"])["loopCounter"])
    assert [plain(t["variables"])["item"] for t in tasks] == ["a", "b", "c"]
    assert [counters(t) for t in tasks] == [(i, 3, 3, 0) for i in range(3)]
    assert (
        await tree(client, pi)
        == [(BODY, "multiInstanceBody", 3)] + [("work", "serviceTask", 0)] * 3
    )
    for task in tasks:
        item = plain(task["variables"])["item"]
        await act(client, task, ("complete", {f"got_{item}": True}, None))
    [after] = await fetch(client, ["after"])
    assert await variables(client, pi) == {
        "items": ["a", "b", "c"],
        "got_a": True,
        "got_b": True,
        "got_c": True,
    }  # item, loopCounter and the counters were local to the activity
    await act(client, after, ("complete", {}, None))
    await assert_ended(client, pi, "COMPLETED")
    found = await activities(client, pi)
    assert shape(found) == [
        ("start", "process", *ENDED),
        (BODY, "process", *ENDED),
        *[("work", BODY, *DONE)] * 3,
        ("after", "process", *ENDED),
        ("end", "process", "ended", False, True),
    ]
    assert body_of(found)["id"].startswith(BODY + ":")


async def test_sequential_task_by_cardinality(client: httpx.AsyncClient) -> None:
    await deploy_mi(client, loop(sequential=True, cardinality="${n}"))
    pi = await start(client, "mi", {"n": 3})
    seen = []
    for _ in range(3):
        [task] = await fetch(client, ["work"])  # one at a time
        seen.append(counters(task))
        await act(client, task, ("complete", {}, None))
    assert seen == [(0, 3, 1, 0), (1, 3, 1, 1), (2, 3, 1, 2)]
    assert await work(client, ["work", "after"]) == ["after"]
    await assert_ended(client, pi, "COMPLETED")
    assert shape(await activities(client, pi))[1:5] == [
        (BODY, "process", *ENDED),
        *[("work", BODY, *DONE)] * 3,
    ]


@pytest.mark.parametrize("sequential", [False, True], ids=["parallel", "sequential"])
async def test_sub_process_instances(client: httpx.AsyncClient, sequential: bool) -> None:
    await deploy_mi(client, loop(sequential=sequential, cardinality="2"), sub_process=True)
    pi = await start(client, "mi")
    first = await fetch(client, ["work"])
    assert len(first) == (1 if sequential else 2)
    assert await tree(client, pi) == [
        (BODY, "multiInstanceBody", len(first)),
        *[("work", "subProcess", 1)] * len(first),
        *[("step", "serviceTask", 0)] * len(first),
    ]
    for task in first:
        await act(client, task, ("complete", {}, None))
    expected = ["step", "after"] if sequential else ["after"]
    assert await work(client, ["work", "after"]) == expected
    await assert_ended(client, pi, "COMPLETED")
    found = shape(await activities(client, pi))
    assert found.count(("work", BODY, *DONE)) == 2
    assert found.count(("step", "work", *ENDED)) == 2  # in its own instance of the sub-process
    assert found.count(("we", "work", "ended", False, True)) == 2


@pytest.mark.parametrize("sequential", [False, True], ids=["parallel", "sequential"])
async def test_completion_condition(client: httpx.AsyncClient, sequential: bool) -> None:
    condition = "${nrOfCompletedInstances == 2}"
    await deploy_mi(client, loop(sequential=sequential, cardinality="4", condition=condition))
    pi = await start(client, "mi")
    if sequential:
        assert await work(client, ["work"]) == ["work", "work"]
        found = shape(await activities(client, pi))
        assert found.count(("work", BODY, *DONE)) == 2 and len(found) == 5
    else:
        tasks = await fetch(client, ["work"])
        for task in tasks[:2]:
            await act(client, task, ("complete", {}, None))
        for task in tasks[2:]:
            await assert_gone(client, task)  # cancelled with the other instances
        found = shape(await activities(client, pi))
        assert found.count(("work", BODY, *DONE)) == 2
        assert found.count(("work", BODY, "ended", True, False)) == 2
    assert await work(client, ["work", "after"]) == ["after"]
    await assert_ended(client, pi, "COMPLETED")


@pytest.mark.parametrize("sub_process", [False, True], ids=["task", "sub-process"])
@pytest.mark.parametrize("sequential", [False, True], ids=["parallel", "sequential"])
async def test_an_error_caught_on_the_activity_cancels_the_other_instances(
    client: httpx.AsyncClient, sequential: bool, sub_process: bool
) -> None:
    await deploy_mi(
        client, loop(sequential=sequential, cardinality="3"), sub_process=sub_process, boundary=True
    )
    pi = await start(client, "mi")
    tasks = await fetch(client, ["work"])
    assert len(tasks) == (1 if sequential else 3)
    await act(client, tasks[-1], ("error", "FAIL", "broken", {}))
    for task in tasks[:-1]:
        await assert_gone(client, task)
    assert await work(client, ["work", "after", "handled"]) == ["handled"]
    await assert_ended(client, pi, "COMPLETED")
    found = shape(await activities(client, pi))
    assert (BODY, "process", "ended", True, False) in found
    instances = [a for a in found if a[0] == "work"]
    assert instances == [("work", BODY, "ended", True, False)] * len(tasks)
    assert found[-2:] == [("handled", "process", *ENDED), ("end2", "process", "ended", False, True)]


@pytest.mark.parametrize(
    "characteristics, start_variables",
    [
        (loop(cardinality="0"), {}),
        (loop(sequential=True, cardinality="${n}"), {"n": 0}),
        (loop(collection="items", element="item"), {"items": []}),
    ],
    ids=["zero", "zero-sequential", "empty-collection"],
)
async def test_no_instances_pass_straight_through(
    client: httpx.AsyncClient, characteristics: str, start_variables: dict[str, Any]
) -> None:
    await deploy_mi(client, characteristics)
    pi = await start(client, "mi", start_variables)
    assert await work(client, ["work", "after"]) == ["after"]
    await assert_ended(client, pi, "COMPLETED")
    assert shape(await activities(client, pi))[:3] == [
        ("start", "process", *ENDED),
        (BODY, "process", *ENDED),
        ("after", "process", *ENDED),
    ]


async def test_a_java_list_object_is_a_collection(client: httpx.AsyncClient) -> None:
    await deploy_mi(client, loop(collection="items", element="item"))
    items = {
        "type": "Object",
        "value": '["x", "y"]',
        "valueInfo": {
            "objectTypeName": "java.util.ArrayList",
            "serializationDataFormat": "application/json",
        },
    }
    response = await client.post(
        "/engine-rest/process-definition/key/mi/start", json={"variables": {"items": items}}
    )
    assert response.status_code == 200, response.text
    tasks = await fetch(client, ["work"])
    assert sorted(plain(t["variables"])["item"] for t in tasks) == ["x", "y"]
    for task in tasks:
        await act(client, task, ("complete", {}, None))
    assert await work(client, ["work", "after"], completing()) == ["after"]
