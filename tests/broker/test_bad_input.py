"""Bad input to the store gives a clear error and writes nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest

from redtask.broker.errors import InvalidArgument, InvalidVariable
from redtask.broker.model import NewTask, TopicRequest
from redtask.broker.query import TaskQuery
from redtask.broker.store import Store

LONG_RANGE = "[-9223372036854775808, 9223372036854775807]"


async def namespace_keys(store: Store) -> set[str]:
    keys = [k async for k in store.redis.scan_iter(match=f"*{store.settings.namespace}*")]
    return set(keys) - {store.keys.config}


async def assert_nothing_written(store: Store) -> None:
    assert await store.count(TaskQuery()) == 0
    assert await namespace_keys(store) == set()


# ------------------------------------------------------------------ topic names


@pytest.mark.parametrize(
    "topic",
    ["a\x00b", "line\nbreak", "tab\there", "del\x7f", "c1\x85control", "lone\ud800surrogate"],
    ids=["nul", "newline", "tab", "del", "c1", "surrogate"],
)
async def test_a_topic_with_control_or_unencodable_characters_is_refused(store, topic):
    with pytest.raises(InvalidArgument) as caught:
        await store.publish(NewTask(topic))

    assert str(caught.value) == f"topic name {topic!r} contains control characters"
    await assert_nothing_written(store)


@pytest.mark.parametrize("topic", ["", None, 5])
async def test_a_missing_or_non_string_topic_is_refused(store, topic: Any):
    with pytest.raises(InvalidArgument) as caught:
        await store.publish(NewTask(topic))

    assert str(caught.value) == "topicName is null"
    await assert_nothing_written(store)


async def test_a_topic_over_255_characters_is_refused(store):
    with pytest.raises(InvalidArgument) as caught:
        await store.publish(NewTask("x" * 256))

    assert str(caught.value) == "topic name is longer than 255 characters"
    await assert_nothing_written(store)


async def test_a_topic_of_exactly_255_characters_and_unicode_text_is_accepted(store):
    long_id = await store.publish(NewTask("x" * 255))
    unicode_id = await store.publish(NewTask("Bestellung prüfen: 注文 ✓"))

    assert (await store.get(long_id)).topic_name == "x" * 255
    assert (await store.get(unicode_id)).topic_name == "Bestellung prüfen: 注文 ✓"


async def test_fetching_a_bad_topic_name_is_refused_and_locks_nothing(store):
    await store.publish(NewTask("t"))

    with pytest.raises(InvalidArgument) as caught:
        await store.fetch_and_lock("w", 5, [TopicRequest("t", 1000), TopicRequest("b\x00d", 1000)])

    assert str(caught.value) == "topic name 'b\\x00d' contains control characters"
    assert [t.worker_id for t in await store.query(TaskQuery())] == [None]


# ------------------------------------------------------------------ variables


async def test_variables_over_the_size_limit_are_refused(store):
    limit = store.settings.max_variables_bytes

    with pytest.raises(InvalidArgument) as caught:
        await store.publish(NewTask("t", {"big": {"type": "String", "value": "x" * limit}}))

    found = re.fullmatch(
        rf"variables take (\d+) bytes, more than the limit of {limit} "
        r"\(REDTASK_MAX_VARIABLES_BYTES\)",
        str(caught.value),
    )
    assert found is not None, str(caught.value)
    assert limit < int(found[1]) <= limit + 100
    await assert_nothing_written(store)


async def test_variables_are_measured_in_bytes_not_characters(store, clock):
    settings = store.settings.model_copy(update={"max_variables_bytes": 1024})
    small = Store(store.redis, settings, clock)
    # 600 two-byte characters: under 700 characters of JSON but over 1200 bytes
    text = "é" * 600

    with pytest.raises(InvalidArgument):
        await small.publish(NewTask("t", {"s": {"type": "String", "value": text}}))

    await assert_nothing_written(store)


async def test_a_completion_with_oversized_variables_is_refused_and_keeps_the_task(store):
    task_id = await store.publish(NewTask("t"))
    await store.fetch_and_lock("w", 1, [TopicRequest("t", 1000)])
    before = await store.get(task_id)
    huge = {"big": {"value": "x" * store.settings.max_variables_bytes}}

    with pytest.raises(InvalidArgument):
        await store.complete(task_id, "w", huge)

    assert await store.get(task_id) == before
    assert await store.finished() == []


async def test_variables_that_are_not_a_map_are_refused(store):
    with pytest.raises(InvalidVariable) as caught:
        await store.publish(NewTask("t", ["not", "a", "map"]))  # type: ignore[arg-type]

    assert str(caught.value) == "variables must be a JSON object"
    await assert_nothing_written(store)


# ------------------------------------------------------------------ wrong Python types


@pytest.mark.parametrize(
    ("task", "message"),
    [
        (NewTask("t", priority="5"), "priority must be an integer"),  # type: ignore[arg-type]
        (NewTask("t", priority=1.0), "priority must be an integer"),  # type: ignore[arg-type]
        (NewTask("t", priority=True), "priority must be an integer"),
        (NewTask("t", priority=2**63), f"priority is out of range {LONG_RANGE}"),
        (NewTask("t", retries=-1), "retries is out of range [1, 2147483647]"),
        (NewTask("t", retries=2**31), "retries is out of range [1, 2147483647]"),
        (NewTask("t", retries="3"), "retries must be an integer"),  # type: ignore[arg-type]
    ],
    ids=[
        "priority-str",
        "priority-float",
        "priority-bool",
        "priority-huge",
        "retries-neg",
        "retries-huge",
        "retries-str",
    ],
)
async def test_a_task_with_wrongly_typed_fields_is_refused(store, task, message):
    with pytest.raises(InvalidArgument) as caught:
        await store.publish(task)

    assert str(caught.value) == message
    await assert_nothing_written(store)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s, i: s.lock(i, "w", 0), "lockDuration is not greater than 0"),
        (lambda s, i: s.lock(i, None, 1000), "workerId is null"),
        (
            lambda s, i: s.fetch_and_lock("w", 1, [TopicRequest("t", 0)]),
            "lockTime is not greater than 0",
        ),
        (
            lambda s, i: s.fetch_and_lock("w", 1, [TopicRequest("t", "1000")]),
            "lockDuration must be an integer",
        ),
        (
            lambda s, i: s.fetch_and_lock("w", "1", [TopicRequest("t", 1000)]),
            "maxTasks must be an integer",
        ),
        (lambda s, i: s.set_retries(i, -1), "retries is not greater than or equal to 0"),
        (lambda s, i: s.set_priority(i, "5"), "priority must be an integer"),
        (lambda s, i: s.extend_lock(i, "w", 0), "lockTime is not greater than 0"),
        (
            lambda s, i: s.handle_failure(i, "w", "m", None, -1, 0),
            "retries is not greater than or equal to 0",
        ),
        (lambda s, i: s.handle_bpmn_error(i, "w", ""), "errorCode is null"),
    ],
    ids=[
        "lock-zero",
        "lock-no-worker",
        "fetch-zero",
        "fetch-str-duration",
        "fetch-str-max",
        "retries-neg",
        "priority-str",
        "extend-zero",
        "failure-neg-retries",
        "bpmn-no-code",
    ],
)
async def test_bad_arguments_to_transitions_are_refused_and_change_nothing(store, call, message):
    task_id = await store.publish(NewTask("t"))
    before = await store.get(task_id)

    with pytest.raises(InvalidArgument) as caught:
        await call(store, task_id)

    assert str(caught.value) == message
    assert await store.get(task_id) == before
    assert await store.incidents() == []


# ------------------------------------------------------------------ batches


@pytest.mark.parametrize(
    "bad",
    [
        NewTask("t", priority="5"),  # type: ignore[arg-type]
        NewTask("t", retries=-1),
        NewTask("bad\ntopic"),
        NewTask("t", {"v": {"type": "STRING", "value": "x"}}),
    ],
    ids=["priority", "retries", "topic", "variable"],
)
async def test_a_batch_whose_last_task_is_bad_stores_none_of_the_batch(store, bad):
    batch = [NewTask("t"), NewTask("u", {"a": {"value": 1}}), NewTask("t", priority=3), bad]

    with pytest.raises(InvalidArgument):
        await store.publish_many(batch)

    await assert_nothing_written(store)
