"""Call activities through the REST API: the called instance is a sub-process instance, its
in/out mappings and business key, its end continuing the caller, bindings, missing and
recursive calls."""

from __future__ import annotations

import httpx

from tests.gateway.call_helpers import activities, child_of, instances
from tests.gateway.constructs_helpers import (
    API,
    act,
    assert_ended,
    deploy,
    fetch,
    start,
    variables,
)


async def test_call_activity_maps_in_and_out_and_continues_the_caller(
    client: httpx.AsyncClient,
) -> None:
    await deploy(client, "call_child", own=True)
    await deploy(client, "call_parent", own=True)
    pi = await start(client, "caller", {"callee": "callee", "order": "o-7", "amount": 21})
    child = await child_of(client, pi)
    assert await instances(client, subProcessInstance=child) == [pi]
    got = await client.get(f"{API}/process-instance/{child}")
    assert got.json()["businessKey"] == "bk-o-7"
    assert await variables(client, child) == {"orderId": "o-7", "doubled": 42, "nothing": None}
    [work] = await fetch(client, ["child-work"])
    assert work["processInstanceId"] == child and work["businessKey"] == "bk-o-7"
    await act(client, work, ("complete", {"result": "done"}, None))
    await assert_ended(client, child, "COMPLETED")
    assert await variables(client, pi) == {
        "callee": "callee",
        "order": "o-7",
        "amount": 21,
        "childResult": "done",
        "shouted": "done!",
    }
    [after] = await fetch(client, ["after"])
    await act(client, after, ("complete", {}, None))
    await assert_ended(client, pi, "COMPLETED")
    assert await activities(client, pi) == ["start", "call", "after", "end"]
    assert await activities(client, child) == ["child_start", "work", "child_end"]
    assert await instances(client, superProcessInstance=pi) == []
