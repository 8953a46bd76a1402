"""External-task queries (ExternalTaskRestServiceImpl.getExternalTasks / queryExternalTasks):
the ExternalTaskDto shape, GET /{id}, sorting and paging of GET/POST /external-task, the
errorDetails of a task, and GET /external-task/topic-names."""

from __future__ import annotations

import pytest

from tests.gateway.helpers import DATE, ET, error
from tests.gateway.query_helpers import MISSING, TASK_KEYS, counts, get_ids, ids_of, post_ids

# ------------------------------------------------------------------ shape


async def test_a_listed_task_has_exactly_the_18_keys_of_external_task_dto(client, tasks, publish):
    response = await client.get(ET, params={"externalTaskId": tasks.d})

    [task] = response.json()
    assert set(task) == TASK_KEYS
    assert task == {
        **publish.process_fields(tasks.d),  # all null for a standalone task
        "errorMessage": "later",
        "id": tasks.d,
        "lockExpirationTime": "2023-11-14T22:14:20.004+0000",
        "createTime": "2023-11-14T22:13:20.003+0000",
        "retries": 2,
        "suspended": False,
        "workerId": "w3",
        "topicName": "c",
        "tenantId": None,
        "priority": -1,
        "businessKey": None,
    }


async def test_get_by_id_returns_the_same_dto(client, tasks):
    listed = (await client.get(ET, params={"externalTaskId": tasks.a})).json()[0]

    response = await client.get(f"{ET}/{tasks.a}")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == listed
    assert set(listed) == TASK_KEYS
    assert (listed["tenantId"], listed["workerId"], listed["retries"]) == ("t1", "w1", None)
    assert DATE.match(listed["lockExpirationTime"]) and DATE.match(listed["createTime"])


async def test_get_by_id_of_an_unknown_task_is_404_with_code_null(client):
    response = await client.get(f"{ET}/{MISSING}")

    assert response.status_code == 404
    assert response.json() == error(
        "RestException", f"External task with id {MISSING} does not exist", None
    )


async def test_no_filter_lists_and_counts_every_task(client, tasks):
    assert await get_ids(client) == set(tasks)
    assert await post_ids(client, {}) == set(tasks)
    assert await counts(client, {}, {}) == (4, 4)


# ------------------------------------------------------------------ sorting and paging


async def test_get_sorts_by_sort_by_and_sort_order(client, tasks):
    by_priority = await client.get(ET, params={"sortBy": "taskPriority", "sortOrder": "desc"})
    by_creation = await client.get(ET, params={"sortBy": "createTime", "sortOrder": "asc"})
    by_id = await client.get(ET, params={"sortBy": "id", "sortOrder": "desc"})

    assert await ids_of(by_priority) == [tasks.a, tasks.c, tasks.b, tasks.d]
    assert await ids_of(by_creation) == [tasks.a, tasks.b, tasks.c, tasks.d]
    assert await ids_of(by_id) == sorted(tasks, reverse=True)


@pytest.mark.parametrize("params", [{"sortBy": "id"}, {"sortOrder": "asc"}])
async def test_only_one_of_sort_by_and_sort_order_is_a_400(client, params):
    response = await client.get(ET, params=params)

    assert response.status_code == 400
    assert response.json() == error(
        "InvalidRequestException",
        "Only a single sorting parameter specified. sortBy and sortOrder required",
    )


@pytest.mark.parametrize(
    ("params", "name", "value"),
    [
        ({"sortBy": "x", "sortOrder": "asc"}, "sortBy", "x"),
        ({"sortBy": "topicName", "sortOrder": "asc"}, "sortBy", "topicName"),
        ({"sortBy": "id", "sortOrder": "up"}, "sortOrder", "up"),
        ({"sortBy": "id", "sortOrder": "DESC"}, "sortOrder", "DESC"),
    ],
)
async def test_an_invalid_sort_by_or_sort_order_is_a_400(client, params, name, value):
    response = await client.get(ET, params=params)

    assert response.status_code == 400
    assert response.json() == error(
        "InvalidRequestException", f"Cannot set query parameter '{name}' to value '{value}'"
    )


async def test_post_sorting_is_an_array_ranked_by_position(client, publish, clock):
    ranked = []
    for priority in (1, 1, 2):
        ranked.append(await publish("t", priority=priority, partition=0))
        clock.advance(10)
    first, second, top = ranked
    sorting = [
        {"sortBy": "taskPriority", "sortOrder": "desc"},
        {"sortBy": "createTime", "sortOrder": "desc"},
    ]

    response = await client.post(ET, json={"sorting": sorting})

    assert await ids_of(response) == [top, second, first]


async def test_post_sorting_is_validated(client):
    response = await client.post(ET, json={"sorting": [{"sortBy": "x", "sortOrder": "asc"}]})

    assert response.status_code == 400
    assert response.json()["message"] == "Cannot set query parameter 'sortBy' to value 'x'"


async def test_post_count_ignores_sorting(client, tasks):
    body = {"topicName": "a", "sorting": [{"sortBy": "taskPriority", "sortOrder": "asc"}]}

    response = await client.post(f"{ET}/count", json=body)

    assert response.json() == {"count": 2}


async def test_first_result_and_max_results_page_get_and_post(client, tasks):
    params = {"sortBy": "taskPriority", "sortOrder": "desc", "firstResult": 1, "maxResults": 2}
    body = {"sorting": [{"sortBy": "taskPriority", "sortOrder": "desc"}]}

    by_get = await client.get(ET, params=params)
    by_post = await client.post(ET, json=body, params={"firstResult": 1, "maxResults": 2})
    tail = await client.get(ET, params={**params, "firstResult": 3, "maxResults": 10})
    head = await client.post(ET, json=body, params={"maxResults": 1})

    assert await ids_of(by_get) == [tasks.c, tasks.b]
    assert await ids_of(by_post) == [tasks.c, tasks.b]
    assert await ids_of(tail) == [tasks.d]
    assert await ids_of(head) == [tasks.a]


async def test_paging_in_the_post_body_is_not_paging(client, tasks):
    assert len(await ids_of(await client.post(ET, json={"maxResults": 1}))) == 4


# ------------------------------------------------------------------ errorDetails


async def test_error_details_are_plain_text(client, tasks):
    response = await client.get(f"{ET}/{tasks.b}/errorDetails")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "details of b"


async def test_error_details_of_a_task_without_details_are_204(client, tasks):
    for task_id in (tasks.c, tasks.d):
        response = await client.get(f"{ET}/{task_id}/errorDetails")
        assert (response.status_code, response.content) == (204, b"")


async def test_error_details_of_an_unknown_task_are_a_null_value_exception(client):
    response = await client.get(f"{ET}/{MISSING}/errorDetails")

    assert response.status_code == 400  # Camunda: 500
    assert response.json() == error(
        "NullValueException", f"No external task found with id {MISSING}: externalTask is null", 0
    )


# ------------------------------------------------------------------ topic names


TOPIC_NAME_CASES = [
    ({}, ["a", "b", "c"]),
    ({"withLockedTasks": "true"}, ["a", "c"]),
    ({"withUnlockedTasks": "true"}, ["a", "b"]),
    ({"withRetriesLeft": "true"}, ["a", "c"]),
    ({"withLockedTasks": "true", "withRetriesLeft": "true"}, ["a", "c"]),
    ({"withUnlockedTasks": "true", "withRetriesLeft": "true"}, ["a"]),
    ({"withLockedTasks": "true", "withUnlockedTasks": "true"}, []),
    (
        {"withLockedTasks": "false", "withUnlockedTasks": "false", "withRetriesLeft": "false"},
        ["a", "b", "c"],
    ),
]


@pytest.mark.parametrize(("params", "expected"), TOPIC_NAME_CASES)
async def test_topic_names_are_the_distinct_topics_matching_the_flags(
    client, tasks, params, expected
):
    response = await client.get(f"{ET}/topic-names", params=params)

    assert response.status_code == 200
    assert sorted(response.json()) == expected
    assert len(response.json()) == len(expected)


async def test_topic_names_of_no_tasks_are_an_empty_list(client):
    response = await client.get(f"{ET}/topic-names")

    assert (response.status_code, response.json()) == (200, [])
