"""One broker error, two answers: where Camunda's REST layer validates a request itself (the
queries, publish) an InvalidArgument is its InvalidRequestException (code null); under an
engine operation it is the engine's ProcessEngineException (code 0). The declaration of one
route does not leak into another."""

from __future__ import annotations

import httpx

from tests.gateway.helpers import ET, error, fetch_body, topic

LONG_TOPIC = "t" * 256
TOO_LONG = "topic name is longer than 255 characters"
BAD_COMPARATOR = "Invalid process variable comparator specified: near"


async def test_publishing_on_a_too_long_topic_is_an_invalid_request(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(f"/redtask/topics/{LONG_TOPIC}/tasks", json={})
    assert (response.status_code, response.json()) == (
        400,
        error("InvalidRequestException", TOO_LONG),
    )


async def test_fetching_a_too_long_topic_is_an_engine_refusal(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{ET}/fetchAndLock", json=fetch_body(topic(LONG_TOPIC)))
    assert (response.status_code, response.json()) == (
        400,
        error("ProcessEngineException", TOO_LONG, 0),
    )


async def test_a_query_with_an_unknown_comparator_is_an_invalid_request(
    client: httpx.AsyncClient,
) -> None:
    body = {"processVariables": [{"name": "n", "operator": "near", "value": 1}]}
    for response in (
        await client.post(ET, json=body),
        await client.post(f"{ET}/count", json=body),
        await client.get(ET, params={"processVariables": "n_near_1"}),
    ):
        expected = error(
            "InvalidRequestException", "Invalid process variable comparator specified: near"
        )
        assert (response.status_code, response.json()) == (400, expected)
