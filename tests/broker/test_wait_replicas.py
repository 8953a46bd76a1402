"""REDTASK_WAIT_REPLICAS: a state change is acknowledged only once N replicas confirmed it
(WAIT on the connection that made it); fewer within the timeout raise ReplicationTimeout
(a 503), the change itself being applied on the master."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from redtask.broker.connection import UNREACHABLE_ERRORS
from redtask.broker.definition_model import DeploymentRequest, Resource
from redtask.broker.model import NewTask, TopicRequest
from redtask.broker.query import TaskQuery
from redtask.broker.redis_layer import ReplicationTimeout
from redtask.broker.settings import Settings
from redtask.broker.store import Completion, Store, open_store
from redtask.testing.servers import LocalSentinel

BPMN = (Path(__file__).resolve().parents[2] / "examples" / "order.bpmn").read_bytes()


@pytest.fixture(scope="module")
def sentinel_group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSentinel]:
    group = LocalSentinel(tmp_path_factory.mktemp("sentinel")).start()
    try:
        yield group
    finally:
        group.stop()


async def _store(url: str, wait: int, timeout_ms: int = 200) -> Store:
    namespace = f"w{uuid.uuid4().hex[:12]}"
    settings = Settings(
        redis_url=url,
        namespace=namespace,
        partitions=4,
        wait_replicas=wait,
        wait_replicas_timeout_ms=timeout_ms,
    )
    return await open_store(settings)


@pytest.fixture
async def cleanup() -> AsyncIterator[list[Store]]:
    stores: list[Store] = []
    yield stores
    for store in stores:
        ns = store.keys.namespace
        keys = [k async for k in store.redis.scan_iter(match=f"*{ns}*", count=1000)]
        if keys:
            await store.redis.delete(*keys)
        await store.close()


def test_a_replication_timeout_answers_503() -> None:
    assert issubclass(ReplicationTimeout, UNREACHABLE_ERRORS)


@pytest.mark.parametrize("kind", ["standalone", "cluster"])
async def test_without_replicas_every_state_change_times_out_but_is_applied(
    kind: str, redis_url: str, cluster_url: str, cleanup: list[Store]
) -> None:
    """A server (or cluster master) without replicas: each kind of write waits out the
    timeout and raises; reads do not wait."""
    url = redis_url if kind == "standalone" else cluster_url
    store = await _store(url, wait=1, timeout_ms=150)
    cleanup.append(store)
    started = time.monotonic()
    with pytest.raises(ReplicationTimeout, match="0 of 1 replicas confirmed the change within"):
        await store.publish(NewTask("t", id="id1"))
    assert time.monotonic() - started >= 0.15
    assert [t.id for t in await store.query(TaskQuery())] == ["id1"]  # applied nonetheless
    with pytest.raises(ReplicationTimeout):
        await store.fetch_and_lock("w", 10, [TopicRequest("t", 60_000)])
    assert [s.locked for s in await store.topic_stats()] == [1]
    # a batch: one script call per partition, then one WAIT per connection
    [result] = await store.complete_many([Completion("id1", "w")])
    assert isinstance(result, ReplicationTimeout)
    assert await store.query(TaskQuery()) == []
    with pytest.raises(ReplicationTimeout):  # a deployment: a MULTI/EXEC, then the wait
        await store.definitions.deploy(DeploymentRequest([Resource("order.bpmn", BPMN)]))
    assert [d.key for d in await store.definitions.definitions()] == ["order"]


async def test_with_a_live_replica_changes_are_acknowledged_and_a_stalled_one_times_them_out(
    sentinel_group: LocalSentinel, cleanup: list[Store]
) -> None:
    store = await _store(sentinel_group.url, wait=1, timeout_ms=300)
    cleanup.append(store)
    ids = await store.publish_many([NewTask("t") for _ in range(8)])
    tasks = await store.fetch_and_lock("w", 8, [TopicRequest("t", 60_000)])
    assert sorted(t.id for t in tasks) == sorted(ids)
    await store.complete(tasks[0].id, "w")
    await store.definitions.deploy(DeploymentRequest([Resource("order.bpmn", BPMN)]))
    replica = sentinel_group.replica_nodes[0].process
    assert replica is not None
    replica.send_signal(signal.SIGSTOP)  # the replica stops acknowledging
    try:
        with pytest.raises(ReplicationTimeout, match="0 of 1 replicas"):
            await store.complete(tasks[1].id, "w")
    finally:
        replica.send_signal(signal.SIGCONT)
    await store.complete(tasks[2].id, "w")  # confirmed again once the replica is back
    left = {t.id for t in await store.query(TaskQuery())}
    assert left == {t.id for t in tasks} - {tasks[0].id, tasks[1].id, tasks[2].id}
