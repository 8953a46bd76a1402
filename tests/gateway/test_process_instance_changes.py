"""Changing process instances (ProcessInstanceResourceImpl): an ended instance is gone, DELETE
/process-instance/{id} removes its tasks, incidents, timers and message subscriptions, and the
instance's variables are read, put, posted (PatchVariablesDto) and deleted."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from redtask.broker.errors import TaskNotFound
from redtask.broker.instances import MessageNotCorrelated
from redtask.broker.model import TopicRequest
from redtask.broker.store import Store
from tests.gateway.helpers import API, error
from tests.gateway.instance_helpers import MISSING, PI, start

pytestmark = pytest.mark.usefixtures("serve_models")


async def test_an_ended_instance_is_no_longer_listed(
    client: httpx.AsyncClient, store: Store
) -> None:
    instance_id = await start(store)
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("charge-card", 10_000)])
    await store.complete(task.id, "w")
    response = await client.get(f"{PI}/{instance_id}")
    assert response.status_code == 404
    assert (await client.get(PI)).json() == []
    assert (await client.get(f"{PI}/count")).json() == {"count": 0}
    response = await client.get(f"{PI}/{instance_id}/variables")
    assert response.status_code == 400
    response = await client.delete(f"{PI}/{instance_id}")
    assert response.status_code == 404


async def test_delete_removes_tasks_and_deletes_their_incidents(
    client: httpx.AsyncClient, store: Store
) -> None:
    instance_id = await start(store)
    other = await start(store)
    [task, other_task] = await store.fetch_and_lock("w", 2, [TopicRequest("charge-card", 10_000)])
    for t in (task, other_task):
        await store.handle_failure(t.id, "w", "boom", None, 0, 0)
    assert len(await store.incidents()) == 2
    victim = task if task.process_instance_id == instance_id else other_task

    response = await client.delete(f"{PI}/{instance_id}")
    assert (response.status_code, response.content) == (204, b"")
    assert (await client.get(f"{PI}/{instance_id}")).status_code == 404
    assert [i["id"] for i in (await client.get(PI)).json()] == [other]
    assert [i.process_instance_id for i in await store.incidents()] == [other]
    tasks = (
        await client.get(f"{API}/external-task", params={"processInstanceId": instance_id})
    ).json()
    assert tasks == []
    with pytest.raises(TaskNotFound):
        await store.complete(victim.id, "w")
    assert (
        await client.get(f"{API}/incident", params={"processInstanceId": instance_id})
    ).json() == []


async def test_delete_unknown(client: httpx.AsyncClient) -> None:
    response = await client.delete(f"{PI}/{MISSING}")
    expected = error(
        "InvalidRequestException",
        f"No process instance found for id '{MISSING}': processInstance is null",
        0,
    )
    assert (response.status_code, response.json()) == (404, expected)
    response = await client.delete(f"{PI}/{MISSING}", params={"failIfNotExists": "true"})
    assert response.status_code == 404
    response = await client.delete(f"{PI}/{MISSING}", params={"failIfNotExists": "false"})
    assert (response.status_code, response.content) == (204, b"")
    response = await client.delete(
        f"{API}/engine/default/process-instance/{MISSING}", params={"failIfNotExists": "FALSE"}
    )
    assert response.status_code == 204


async def test_delete_cancels_timers_and_message_subscriptions(
    client: httpx.AsyncClient, store: Store
) -> None:
    delay = {"reminderDelay": {"type": "String", "value": "PT1H"}}
    timed = await start(store, "reminders:1:test", delay)
    waiting = await start(store, "correlate:1:test")
    partition = store.keys.partition_of(timed)
    assert len(await store.redis.zrange(store.keys.timers(partition), 0, -1)) == 2
    for instance_id in (timed, waiting):
        assert (await client.delete(f"{PI}/{instance_id}")).status_code == 204
    for p in range(store.keys.partitions):
        assert await store.redis.zrange(store.keys.timers(p), 0, -1) == []
    with pytest.raises(MessageNotCorrelated):
        await store.correlate_message("PaymentReceived")
    assert await store.topic_stats() == []


# ------------------------------------------------------------------ variables


async def test_get_variables(client: httpx.AsyncClient, store: Store) -> None:
    variables = {
        "amount": {"type": "Integer", "value": 42},
        "due": {"type": "Date", "value": "2024-01-02T03:04:05.006+0100"},
        "doc": {"type": "File", "value": "aGk=", "valueInfo": {"filename": "a.txt"}},
    }
    instance_id = await start(store, variables=variables)
    expected = {
        "amount": {"type": "Integer", "value": 42, "valueInfo": {}},
        "due": {"type": "Date", "value": "2024-01-02T02:04:05.006+0000", "valueInfo": {}},
        "doc": {"type": "File", "value": None, "valueInfo": {"filename": "a.txt"}},
    }
    response = await client.get(f"{PI}/{instance_id}/variables")
    assert (response.status_code, response.json()) == (200, expected)
    response = await client.get(
        f"{PI}/{instance_id}/variables", params={"deserializeValues": "false"}
    )
    assert response.json() == expected
    response = await client.get(f"{PI}/{instance_id}/variables/due")
    assert (response.status_code, response.json()) == (200, expected["due"])
    response = await client.get(f"{PI}/{instance_id}/variables/nope")
    expected_error = error(
        "InvalidRequestException", "process instance variable with name nope does not exist"
    )
    assert (response.status_code, response.json()) == (404, expected_error)


async def test_variables_of_an_unknown_instance(client: httpx.AsyncClient) -> None:
    cause = f"execution {MISSING} doesn't exist: execution is null"
    base = f"{PI}/{MISSING}/variables"
    response = await client.get(base)
    assert (response.status_code, response.json()) == (400, error("NullValueException", cause, 0))
    cases = [
        (client.get(f"{base}/x"), "Cannot get process instance variable x"),
        (client.put(f"{base}/x", json={"value": 1}), "Cannot put process instance variable x"),
        (client.delete(f"{base}/x"), "Cannot delete process instance variable x"),
        (
            client.post(base, json={"modifications": {"x": {"value": 1}}}),
            f"Cannot modify variables for process instance {MISSING}",
        ),
    ]
    for call, prefix in cases:
        response = await call
        expected = error("RestException", f"{prefix}: {cause}", 0)
        assert (response.status_code, response.json()) == (400, expected)


async def test_put_post_delete_variables(client: httpx.AsyncClient, store: Store) -> None:
    instance_id = await start(store, variables={"keep": {"type": "String", "value": "k"}})
    base = f"{PI}/{instance_id}/variables"
    response = await client.put(f"{base}/amount", json={"type": "Long", "value": "7"})
    assert (response.status_code, response.content) == (204, b"")
    response = await client.put(f"{base}/flag", json={"value": True})
    assert response.status_code == 204
    response = await client.put(f"{base}/gone", json={"value": 1, "valueInfo": {"transient": True}})
    assert response.status_code == 204
    assert (await client.get(base)).json() == {
        "keep": {"type": "String", "value": "k", "valueInfo": {}},
        "amount": {"type": "Long", "value": 7, "valueInfo": {}},
        "flag": {"type": "Boolean", "value": True, "valueInfo": {}},
    }
    # modifications first, then deletions (a name in both ends up deleted)
    body = {
        "modifications": {"amount": {"type": "Integer", "value": 8}, "new": {"value": "n"}},
        "deletions": ["flag", "new", "never-set"],
    }
    response = await client.post(base, json=body)
    assert (response.status_code, response.content) == (204, b"")
    assert (await client.get(base)).json() == {
        "keep": {"type": "String", "value": "k", "valueInfo": {}},
        "amount": {"type": "Integer", "value": 8, "valueInfo": {}},
    }
    response = await client.delete(f"{base}/keep")
    assert (response.status_code, response.content) == (204, b"")
    response = await client.delete(f"{base}/never-set")
    assert response.status_code == 204
    assert (await client.get(base)).json() == {
        "amount": {"type": "Integer", "value": 8, "valueInfo": {}}
    }
    # the instance's tasks see the new values
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("charge-card", 10_000)])
    assert task.variables == {"amount": {"type": "Integer", "value": 8, "valueInfo": {}}}
    _, version = await store.instance_state(instance_id)
    assert version == 5  # start + 4 writes: a transient value or a missing name writes nothing


async def test_bad_variable_values(client: httpx.AsyncClient, store: Store) -> None:
    instance_id = await start(store)
    base = f"{PI}/{instance_id}/variables"
    response = await client.put(f"{base}/n", json={"type": "Integer", "value": "abc"})
    expected = error(
        "InvalidRequestException",
        "Cannot put process instance variable n: Cannot convert value 'abc' of type 'Integer' "
        "to java type java.lang.Integer",
    )
    assert (response.status_code, response.json()) == (400, expected)
    response = await client.put(f"{base}/n", json={"type": "Foo", "value": 1})
    expected = error(
        "InvalidRequestException",
        "Cannot put process instance variable n: Unsupported value type 'Foo'",
    )
    assert (response.status_code, response.json()) == (400, expected)
    response = await client.post(
        base, json={"modifications": {"n": {"type": "Boolean", "value": 3}}}
    )
    expected = error(
        "InvalidRequestException",
        "Cannot modify variables for process instance: Cannot convert value '3' of type "
        "'Boolean' to java type java.lang.Boolean",
    )
    assert (response.status_code, response.json()) == (400, expected)
    response = await client.put(f"{base}/n", json=[1])
    assert (response.status_code, response.json()) == (400, error("InvalidRequestException", ""))
    assert (await client.get(base)).json() == {}
    assert (await store.instance_state(instance_id))[1] == 1  # nothing written


async def test_concurrent_variable_writes_are_all_kept(
    client: httpx.AsyncClient, store: Store
) -> None:
    instance_id = await start(store)
    base = f"{PI}/{instance_id}/variables"
    calls = [client.put(f"{base}/v{n}", json={"value": n}) for n in range(12)]
    assert {r.status_code for r in await asyncio.gather(*calls)} == {204}
    values = (await client.get(base)).json()
    assert values == {f"v{n}": {"type": "Integer", "value": n, "valueInfo": {}} for n in range(12)}
