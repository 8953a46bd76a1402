"""The dashboard in a real headless Chromium against a gateway process on the test Redis: each
page shows the right counts, the topics table refreshes itself, a task's detail opens from the
list, an incident retried from the page is fetchable again over REST, the diagram renders as an
SVG with instance badges, an instance is cancelled from its page, every page fits a phone's
width; with auth on, the pages load with credentials and are refused without. Screenshots land
in ``test-artifacts/ui/`` (their paths are printed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import NoAlertPresentException

from tests.gateway.ui.browser import PHONE, Rest, basic, chromium, gateway, screenshot, until
from tests.gateway.ui.helpers import HOSTILE, ORDER_BPMN, ORDER_SHAPES, UI

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def site(redis_url: str, namespace: str) -> Iterator[str]:
    with gateway(redis_url, namespace) as base:
        yield base


def by_css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def all_css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def cells(driver: Any, row_selector: str) -> list[str]:
    """The texts of a row's cells, read in one script (the live refresh replaces rows)."""
    script = (
        "return Array.from(document.querySelectorAll(arguments[0])).map(td => td.innerText.trim())"
    )
    return list(driver.execute_script(script, f"{row_selector} td"))


def navigation_status(driver: Any) -> int:
    """The HTTP status of the page's own load (Navigation Timing)."""
    script = "return performance.getEntriesByType('navigation')[0].responseStatus"
    return int(driver.execute_script(script))


def test_the_topics_page_shows_the_counts_and_refreshes_itself(browser: Any, site: str) -> None:
    rest = Rest(site)
    rest.publish("mail", {}, {}, {})
    [locked] = rest.fetch("mail", worker="w-1", max_tasks=1)
    [done] = rest.publish("done")
    rest.fetch("done")
    rest.complete(done, "w")

    browser.get(f"{site}{UI}/topics")

    assert by_css(browser, "h1").text == "Topics"
    assert cells(browser, 'tr[data-topic="mail"]')[:5] == ["mail", "2", "1", "0", "0"]
    assert cells(browser, 'tr[data-topic="done"]')[1:5] == ["0", "0", "0", "0"]
    per_minute, last_minutes = cells(browser, 'tr[data-topic="done"]')[6:]
    assert last_minutes == "1"  # this minute, or the last one if it just turned
    assert per_minute in ("1 · 0 · 0 · 0 · 0", "0 · 1 · 0 · 0 · 0")
    screenshot(browser, "topics-desktop")
    rest.publish("mail", {}, {})
    rest.fail(locked["id"], "w-1", "boom", "details", 0)
    until(
        lambda: cells(browser, 'tr[data-topic="mail"]')[:5] == ["mail", "4", "0", "0", "1"],
        what="the live refresh",
    )
    assert by_css(browser, "#open-incidents").text == "1"
    assert by_css(browser, "#refreshed").text.startswith("updated ")


def test_a_task_detail_opens_from_the_list_with_its_variables_as_text(
    browser: Any, site: str
) -> None:
    rest = Rest(site)
    variables = {"note": {"type": "String", "value": HOSTILE}, "n": {"type": "Long", "value": 42}}
    [task_id] = rest.publish("mail", {"variables": variables, "businessKey": "B-7"})
    rest.fetch("mail", worker="w-9")

    browser.get(f"{site}{UI}/tasks?state=locked")
    rows = all_css(browser, "#tasks tbody tr")
    assert len(rows) == 1
    by_css(browser, f'#tasks a[href$="/tasks/{task_id}"]').click()

    until(lambda: browser.current_url.endswith(f"/tasks/{task_id}"), what="the detail page")
    assert by_css(browser, "#lock-owner").text == "w-9"
    assert by_css(browser, "#task-state").text == "locked"
    values = {
        row.find_element("css selector", "td").text: row.find_elements("css selector", "td")[2].text
        for row in all_css(browser, "table.variables tbody tr")
    }
    assert values == {"n": "42", "note": HOSTILE}  # shown as text, never run
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert  # noqa: B018 (the script would have opened one)
    screenshot(browser, "task-desktop")
    screenshot(browser, "task-phone", PHONE)


def test_an_incident_retried_from_the_page_is_fetchable_again(browser: Any, site: str) -> None:
    rest = Rest(site)
    first, second = rest.publish("charge", {}, {})
    for task in rest.fetch("charge"):
        rest.fail(task["id"], "w", f"card declined {HOSTILE}", "Traceback ...", 0)
    assert rest.fetch("charge") == []

    browser.get(f"{site}{UI}/incidents")
    assert by_css(browser, "#incident-total").text == "2"
    screenshot(browser, "incidents-desktop")
    screenshot(browser, "incidents-phone", PHONE)
    by_css(browser, f'input[name="task"][value="{first}"]').click()
    by_css(browser, "#retry-selected").click()

    until(lambda: all_css(browser, "#notice"), what="the retry's notice")
    assert by_css(browser, "#notice").text == "Retries set on 1 task."
    assert by_css(browser, "#incident-total").text == "1"
    assert [t["id"] for t in rest.fetch("charge")] == [first]
    by_css(browser, f'button[name="only"][value="{second}"]').click()
    until(lambda: by_css(browser, "#incident-total").text == "0", what="the second retry")
    assert [t["id"] for t in rest.fetch("charge")] == [second]


def test_the_diagram_renders_with_instance_counts_and_an_instance_is_cancelled(
    browser: Any, site: str
) -> None:
    rest = Rest(site)
    definition_id = rest.deploy("order.bpmn", ORDER_BPMN)
    item = {"item": {"type": "String", "value": "book"}}
    first = rest.start("order", "A-1", item)
    rest.start("order", "A-2", item)

    browser.get(f"{site}{UI}/processes")
    assert cells(browser, f'tr[data-definition="{definition_id}"]')[3] == "2"
    by_css(browser, f'tr[data-definition="{definition_id}"] a').click()
    until(lambda: all_css(browser, "svg.diagram"), what="the diagram")

    shapes = all_css(browser, "svg.diagram g.shape")
    assert {s.get_attribute("data-element"): s.get_attribute("data-type") for s in shapes} == (
        ORDER_SHAPES
    )
    assert len(all_css(browser, "svg.diagram g.shape.start circle")) == 1
    assert len(all_css(browser, "svg.diagram g.shape.task rect")) >= 3
    assert len(all_css(browser, "svg.diagram g.shape.gateway polygon")) == 1
    assert len(all_css(browser, "svg.diagram g.flow polyline")) == 7
    badge = by_css(browser, 'svg.diagram g[data-element="reserve_stock"] g.badge.running text')
    assert badge.text == "2"
    svg = by_css(browser, "svg.diagram")
    assert svg.size["width"] > 400 and svg.size["height"] > 150
    screenshot(browser, "process-desktop")
    screenshot(browser, "process-phone", PHONE)

    by_css(browser, f'#instances a[href$="/instances/{first}"]').click()
    until(lambda: all_css(browser, "#cancel"), what="the instance page")
    screenshot(browser, "instance-desktop")
    by_css(browser, "#cancel").click()
    browser.switch_to.alert.accept()
    until(
        lambda: by_css(browser, "#instance-state").text == "EXTERNALLY_TERMINATED",
        what="the cancellation",
    )
    running = rest.http.get("/engine-rest/process-instance", params={"businessKey": "A-1"})
    assert running.json() == []


def test_every_page_fits_a_phone_and_a_desktop(browser: Any, site: str) -> None:
    rest = Rest(site)
    definition_id = rest.deploy("order.bpmn", ORDER_BPMN)
    instance = rest.start("order", "A-1", {"item": {"type": "String", "value": "lamp"}})
    long_topic = "a-topic-with-a-rather-long-name-for-a-small-screen"
    [_, failed] = rest.publish(long_topic, {}, {"variables": {"x": {"value": "y" * 300}}})
    rest.fetch(long_topic, worker="worker-host-1234")
    rest.fail(failed, "worker-host-1234", "a rather long error message " * 5, "trace\n" * 40, 0)

    pages = {
        "topics": "topics",
        "tasks": "tasks",
        "task": f"tasks/{failed}",
        "incidents": "incidents",
        "workers": "workers",
        "processes": "processes",
        "definition": f"processes/{definition_id}",
        "instance": f"instances/{instance}",
    }
    for name, path in pages.items():
        browser.get(f"{site}{UI}/{path}")
        assert by_css(browser, "h1").text
        screenshot(browser, f"{name}-desktop")
        browser.set_window_size(*PHONE)
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0, f"{name} is wider than a phone by {overflow}px"
        screenshot(browser, f"{name}-phone", PHONE)


def test_with_auth_on_pages_load_with_credentials_and_are_refused_without(
    browser: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    with gateway(redis_url, namespace, auth=True) as base:
        Rest(base, basic()).publish("secured", {})

        browser.get(f"{base}{UI}/topics")
        assert navigation_status(browser) == 401
        assert all_css(browser, "h1") == [] and all_css(browser, "#topics") == []
        assert "secured" not in browser.page_source
        screenshot(browser, "topics-auth-refused")

        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd(
            "Network.setExtraHTTPHeaders", {"headers": {"Authorization": basic()}}
        )
        try:
            browser.get(f"{base}{UI}/topics")
            assert navigation_status(browser) == 200
            assert by_css(browser, "h1").text == "Topics"
            assert cells(browser, 'tr[data-topic="secured"]')[:2] == ["secured", "1"]
            until(
                lambda: by_css(browser, "#refreshed").text.startswith("updated "),
                what="a refresh with credentials",
            )
            screenshot(browser, "topics-auth")
        finally:
            browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
