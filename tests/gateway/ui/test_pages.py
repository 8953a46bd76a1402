"""The dashboard's pages and JSON on a real Redis: exact counts, filters and paging, every text
from Redis or a client shown escaped, a task's and an instance's detail, the diagram with its
badges, the workers; ``/`` links the dashboard."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import pytest

from redtask.broker.activity import WORKER_ID_MAX, WORKERS_MAX
from redtask.broker.definition_model import DeploymentRequest, Resource
from redtask.broker.model import NewTask, TopicRequest
from redtask.broker.store import Store
from tests.conftest import START_MS, FakeClock
from tests.gateway.ui.helpers import (
    ESCAPED,
    HOSTILE,
    HOSTILE_BPMN,
    ORDER_SHAPES,
    UI,
    Scene,
    build,
)


@pytest.fixture
async def scene(store: Store, app: object) -> Scene:
    return await build(store)


def rows(html: str, table: str) -> list[str]:
    """The body rows of the table with id ``table``."""
    body = html.split(f'<table id="{table}">', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr[ >].*?</tr>", body.split("<tbody>", 1)[1], re.S)


def assert_escaped(html: str) -> None:
    assert HOSTILE not in html
    assert "<script>alert" not in html


async def test_the_root_page_links_the_dashboard(client: httpx.AsyncClient) -> None:
    response = await client.get("/")

    assert response.status_code == 200
    assert f'<a href="{UI}">Dashboard</a>' in response.text
    assert (await client.get(UI)).headers["location"] == f"{UI}/topics"


async def test_the_topics_json_counts_each_state_exactly(
    client: httpx.AsyncClient, scene: Scene, clock: FakeClock
) -> None:
    clock.advance(90_000)

    body = (await client.get(f"{UI}/api/topics")).json()

    assert body["runningInstances"] == 2 and body["openIncidents"] == 1
    assert body["topics"] == [
        {
            "topicName": "mail",
            "available": 1,
            "locked": 1,
            "retrying": 0,
            "incidents": 1,
            "oldestAgeMs": 90_000,
            "completedPerMinute": [0, 0, 0, 0, 0],
            "completedLastMinutes": 0,
        },
        {
            "topicName": "reserve-stock",
            "available": 2,
            "locked": 0,
            "retrying": 0,
            "incidents": 0,
            "oldestAgeMs": 90_000,
            "completedPerMinute": [0, 0, 0, 0, 0],
            "completedLastMinutes": 0,
        },
    ]


async def test_completions_show_per_minute_and_a_finished_topic_stays_listed(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    clock.now = START_MS - START_MS % 60_000
    await store.publish_many([NewTask("done-soon") for _ in range(3)])
    for task in await store.fetch_and_lock("w", 2, [TopicRequest("done-soon", 10_000)]):
        await store.complete(task.id, "w")
    clock.advance(60_000)
    [last] = await store.fetch_and_lock("w", 1, [TopicRequest("done-soon", 10_000)])
    await store.complete(last.id, "w")
    await store.publish(NewTask("retry-me"))
    [failing] = await store.fetch_and_lock("w", 1, [TopicRequest("retry-me", 10_000)])
    await store.handle_failure(failing.id, "w", "later", None, 3, 60_000)

    topics = (await client.get(f"{UI}/api/topics")).json()["topics"]
    page = await client.get(f"{UI}/topics")

    assert [
        (t["topicName"], t["completedPerMinute"], t["completedLastMinutes"]) for t in topics
    ] == [
        ("done-soon", [1, 2, 0, 0, 0], 3),
        ("retry-me", [0, 0, 0, 0, 0], 0),
    ]
    assert topics[0]["available"] == topics[0]["locked"] == 0
    assert topics[1]["retrying"] == 1
    [done_row, retry_row] = rows(page.text, "topics")
    assert re.findall(r'data-label="[^"]+">([^<]*)</td>', done_row) == [
        "0", "0", "0", "0", "-", "1 · 2 · 0 · 0 · 0", "3",
    ]  # fmt: skip
    assert re.findall(r'data-label="[^"]+">([^<]*)</td>', retry_row)[:4] == ["0", "0", "1", "0"]


async def test_the_topics_page_shows_the_counts_and_refreshes_from_the_json(
    client: httpx.AsyncClient, scene: Scene, clock: FakeClock
) -> None:
    clock.advance(125_000)
    page = (await client.get(f"{UI}/topics")).text

    mail, reserve = rows(page, "topics")
    assert re.findall(r'data-label="[^"]+">([^<]*)</td>', mail) == [
        "1", "1", "0", "1", "2m 05s", "0 · 0 · 0 · 0 · 0", "0",
    ]  # fmt: skip
    assert 'data-topic="reserve-stock"' in reserve
    assert f'data-source="{UI}/api/topics"' in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert f'<script src="{UI}/static/dashboard.js"></script>' in page


async def test_tasks_are_filtered_by_topic_state_worker_business_key_and_instance(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    async def ids(**params: str) -> list[str]:
        html = (await client.get(f"{UI}/tasks", params=params)).text
        assert_escaped(html)
        return re.findall(r'<a class="id" href="/redtask/ui/tasks/([^"]+)">', html)

    assert len(await ids()) == 5
    assert sorted(await ids(topic="mail")) == sorted([scene.available, scene.locked, scene.failed])
    assert await ids(state="incident") == [scene.failed]
    assert await ids(state="locked") == [scene.locked]
    assert sorted(await ids(state="available", topic="mail")) == [scene.available]
    assert len(await ids(state="available")) == 3
    assert await ids(state="retrying") == []
    assert await ids(worker="w-1") == [scene.locked]
    [order_task] = await ids(instance=scene.orders[1])  # its business key is HOSTILE too
    assert sorted(await ids(businessKey=HOSTILE)) == sorted([scene.available, order_task])
    assert await ids(businessKey="B-3") == [scene.locked]
    assert await ids(businessKey="A-1") == await ids(instance=scene.orders[0]) != []


async def test_tasks_are_paged_fifty_at_a_time(client: httpx.AsyncClient, store: Store) -> None:
    await store.publish_many([NewTask("bulk") for _ in range(120)])

    pages = [await client.get(f"{UI}/tasks", params={"topic": "bulk", "page": n}) for n in "123"]
    found = [re.findall(r'<a class="id" href="/redtask/ui/tasks/([^"]+)">', p.text) for p in pages]

    assert [len(f) for f in found] == [50, 50, 20]
    assert len({i for f in found for i in f}) == 120
    assert '<span id="task-total">120</span>' in pages[0].text
    assert 'rel="next" href="?topic=bulk&amp;page=2"' in pages[0].text
    assert "page 3 of 3" in pages[2].text and 'rel="next"' not in pages[2].text
    beyond = await client.get(f"{UI}/tasks", params={"topic": "bulk", "page": "9"})
    garbage = await client.get(f"{UI}/tasks", params={"topic": "bulk", "page": "\u0663"})
    assert "page 3 of 3" in beyond.text  # the last page
    assert "page 1 of 3" in garbage.text  # not a page number: the first


async def test_a_task_page_shows_typed_variables_lock_retries_and_the_error_escaped(
    client: httpx.AsyncClient, scene: Scene, store: Store
) -> None:
    failed = (await client.get(f"{UI}/tasks/{scene.failed}")).text
    available = (await client.get(f"{UI}/tasks/{scene.available}")).text
    locked = (await client.get(f"{UI}/tasks/{scene.locked}")).text

    assert_escaped(failed)
    assert f'<p id="error-message" class="error">failed: {ESCAPED}</p>' in failed
    assert f'<pre id="error-details" class="details">trace {ESCAPED}</pre>' in failed
    assert '<dd id="retries">0</dd>' in failed and '<dd id="task-state">incident</dd>' in failed
    assert (
        '<td data-label="Name">body</td><td data-label="Type">String</td>'
        f'<td data-label="Value"><pre>{ESCAPED}</pre></td>'
    ) in failed
    assert (
        '<td data-label="Name">count</td><td data-label="Type">Integer</td>'
        '<td data-label="Value"><pre>7</pre></td>'
    ) in available
    assert '<dd id="lock-owner">w-1</dd>' in locked
    assert '<dd id="lock-expiry">2023-11-14T22:14:20.000+0000</dd>' in locked


async def test_a_process_task_shows_its_instance_variables(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    html = (await client.get(f"{UI}/tasks", params={"instance": scene.orders[0]})).text
    [task_id] = re.findall(r'<a class="id" href="/redtask/ui/tasks/([^"]+)">', html)

    page = (await client.get(f"{UI}/tasks/{task_id}")).text

    assert_escaped(page)
    assert f'<td data-label="Value"><pre>{ESCAPED}</pre></td>' in page
    assert f'href="{UI}/instances/{scene.orders[0]}"' in page


async def test_an_unknown_task_instance_or_definition_is_a_404_page(
    client: httpx.AsyncClient,
) -> None:
    for path in ("tasks/nope", "instances/nope", "processes/nope:1:x"):
        response = await client.get(f"{UI}/{path}")
        assert response.status_code == 404 and "does not exist" in response.text


async def test_the_incidents_page_lists_message_and_details_escaped(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    page = (await client.get(f"{UI}/incidents")).text

    [row] = rows(page, "incidents")
    assert_escaped(page)
    assert f'data-task="{scene.failed}"' in row
    assert f'<td data-label="Message" class="error">failed: {ESCAPED}</td>' in row
    assert f'<pre class="details short">trace {ESCAPED}</pre>' in row
    assert f'<button type="submit" name="only" value="{scene.failed}">Retry</button>' in row


async def test_the_processes_page_counts_running_instances_and_incidents(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    page = (await client.get(f"{UI}/processes")).text

    [row] = rows(page, "processes")
    assert f'href="{UI}/processes/{quote(scene.definition.id, safe="")}">v1</a>' in row
    assert '<td class="n" data-label="Running">2</td>' in row
    assert '<td class="n" data-label="Incidents">0</td>' in row


async def test_the_diagram_draws_every_shape_by_type_with_instance_badges(
    client: httpx.AsyncClient, scene: Scene, store: Store
) -> None:
    [task] = await store.fetch_and_lock("w", 1, [TopicRequest("reserve-stock", 10_000)])
    await store.handle_failure(task.id, "w", "no stock service", None, 0, 0)

    page = (await client.get(f"{UI}/processes/{scene.definition.id}")).text

    svg = page.split('<svg class="diagram"', 1)[1].split("</svg>", 1)[0]
    shapes = dict(
        re.findall(r'<g class="shape [^"]*" data-element="([^"]+)" data-type="(\w+)"', svg)
    )
    assert shapes == ORDER_SHAPES
    groups = {
        element: body
        for element, body in re.findall(
            r'<g class="shape [^"]*" data-element="([^"]+)".*?>(.*?)\n  </g>', svg, re.S
        )
    }
    assert "<circle" in groups["order_received"] and "<rect" not in groups["order_received"]
    assert '<rect x="' in groups["reserve_stock"] and 'rx="10"' in groups["reserve_stock"]
    assert "<polygon" in groups["express_choice"]
    assert svg.count('<g class="flow"') == 7 and svg.count("<polyline") == 7
    assert 'class="badge running"' in groups["reserve_stock"]
    assert re.search(r'class="badge running">.*?>2</text>', groups["reserve_stock"])
    assert re.search(r'class="badge incidents">.*?>1</text>', groups["reserve_stock"])
    assert "badge" not in groups["ship_express"]
    assert ">Reserve stock</text>" in svg and ">Express?</text>" in svg
    assert '<dd id="running-count">2</dd>' in page
    listing = (await client.get(f"{UI}/processes")).text
    [row] = rows(listing, "processes")
    assert '<td class="n bad" data-label="Incidents">1</td>' in row
    assert len(rows(page, "instances")) == 2
    assert_escaped(page)


async def test_an_instance_page_shows_variables_tasks_and_a_cancel_form(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    page = (await client.get(f"{UI}/instances/{scene.orders[1]}")).text

    assert_escaped(page)
    assert '<dd id="instance-state">ACTIVE</dd>' in page
    assert f"<dt>Business key</dt><dd>{ESCAPED}</dd>" in page
    assert f'<td data-label="Value"><pre>{ESCAPED}</pre></td>' in page
    assert len(rows(page, "instance-tasks")) == 1
    assert f'action="{UI}/instances/{scene.orders[1]}/cancel"' in page


async def test_the_workers_page_lists_recent_workers_and_the_tasks_they_hold(
    client: httpx.AsyncClient, scene: Scene, store: Store, clock: FakeClock
) -> None:
    clock.advance(30_000)
    await store.lock(scene.available, "w-2", 60_000)  # locks by id: never fetched

    page = (await client.get(f"{UI}/workers")).text

    table = rows(page, "workers")
    assert [re.search(r'data-worker="([^"]+)"', r).group(1) for r in table] == ["w-1", "w-2"]
    w1, w2 = table
    assert '<td data-label="Last fetch">30s ago</td>' in w1
    assert '<td class="n" data-label="Locked tasks">1</td>' in w1
    assert f'href="{UI}/tasks/{scene.locked}"' in w1
    assert '<td data-label="Last fetch">-</td>' in w2
    assert f'href="{UI}/tasks/{scene.available}"' in w2


async def test_a_hostile_worker_id_is_shown_escaped(
    client: httpx.AsyncClient, store: Store
) -> None:
    await store.fetch_and_lock(HOSTILE, 1, [TopicRequest("t", 1000)])

    page = (await client.get(f"{UI}/workers")).text

    assert_escaped(page)
    assert f'<td data-label="Worker"><a href="{UI}/tasks?worker=' in page
    assert f">{ESCAPED}</a></td>" in page


async def test_the_workers_page_stays_bounded_whatever_ids_workers_send(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    for n in range(WORKERS_MAX + 20):
        await store.fetch_and_lock(f"bot-{n:05}", 1, [TopicRequest("t", 1000)])
        clock.advance(1)
    await store.fetch_and_lock("z" * (WORKER_ID_MAX + 1), 1, [TopicRequest("t", 1000)])

    page = (await client.get(f"{UI}/workers")).text

    shown = [re.search(r'data-worker="([^"]+)"', r).group(1) for r in rows(page, "workers")]
    assert len(shown) == WORKERS_MAX
    assert shown[0] == "bot-00020" and shown[-1] == f"bot-{WORKERS_MAX + 19:05}"


async def test_every_page_loads_only_assets_the_gateway_serves(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    paths = [
        "/",
        f"{UI}/topics",
        f"{UI}/tasks",
        f"{UI}/tasks/{scene.failed}",
        f"{UI}/incidents",
        f"{UI}/processes",
        f"{UI}/processes/{quote(scene.definition.id, safe='')}",
        f"{UI}/instances/{scene.orders[0]}",
        f"{UI}/workers",
    ]
    for path in paths:
        html = (await client.get(path)).text
        assets = re.findall(r'<(?:script|link|img)\b[^>]*?(?:src|href)="([^"]+)"', html)
        assert assets and all(a.startswith(f"{UI}/static/") for a in assets), (path, assets)
        assert "//" not in " ".join(assets)
        for asset in assets:
            assert (await client.get(asset)).status_code == 200


async def test_hostile_names_in_a_diagram_are_drawn_as_text(
    client: httpx.AsyncClient, store: Store
) -> None:
    result = await store.definitions.deploy(
        DeploymentRequest([Resource("hostile.bpmn", HOSTILE_BPMN)], name=HOSTILE)
    )
    assert result.definitions is not None
    [definition] = result.definitions
    await store.start_process_instance(definition, None, HOSTILE)

    listing = (await client.get(f"{UI}/processes")).text
    page = (await client.get(f"{UI}/processes/{quote(definition.id, safe='')}")).text

    assert_escaped(listing)
    assert_escaped(page)
    svg = page.split('<svg class="diagram"', 1)[1].split("</svg>", 1)[0]
    assert svg.count(f">{ESCAPED}</text>") == 3  # the start event, the flow, the task
    assert f"<title>{ESCAPED} (serviceTask)</title>" in svg
    assert re.search(r'class="badge running">.*?>1</text>', svg)


async def test_a_task_with_a_slash_and_markup_in_its_id_is_linked_and_shown(
    client: httpx.AsyncClient, store: Store
) -> None:
    task_id = "odd/<i>id</i>"
    await store.publish(NewTask("odd", id=task_id))

    listing = (await client.get(f"{UI}/tasks", params={"topic": "odd"})).text
    [href] = re.findall(r'<a class="id" href="([^"]+)">', listing)
    page = await client.get(href)

    assert href == f"{UI}/tasks/odd%2F%3Ci%3Eid%3C%2Fi%3E"
    assert page.status_code == 200
    assert '<span class="id">odd/&lt;i&gt;id&lt;/i&gt;</span>' in page.text
